"""Where attachment bytes live: a small storage interface and the local implementation (the instance folder).

Layout of the local store, under `<instance folder>/attachments/`:

    partial/<sha256>            an upload in progress; its length is the number of bytes the server holds
    objects/<sha[:2]>/<sha256>  a complete file whose SHA-256 has been verified (moved there with os.replace)
    locks/<sha256>              the per-attachment lock file (flock), removed once the attachment is complete

Bytes are fsync'd before `append` returns, so a byte the server has reported as received survives a crash.
Serializing writers of one attachment is the caller's job, through `lock(sha)`; the store itself only checks
that each chunk starts where the partial file ends.
"""
from __future__ import annotations

import abc
import contextlib
import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from typing import BinaryIO

COPY_BLOCK = 256 * 1024
LOCK_POLL_SECONDS = 0.05


class StorageError(Exception):
    """Base of what a store raises; services turn these into HTTP-shaped errors."""


class OffsetMismatch(StorageError):
    """A chunk does not start where the partial file ends."""

    def __init__(self, held: int):
        super().__init__(f"the store holds {held} bytes")
        self.held = held


class ChunkLengthMismatch(StorageError):
    """The body held fewer or more bytes than announced; nothing of it was kept."""

    def __init__(self, expected: int, received: int, more: bool):
        what = "more than" if more else f"only {received} of"
        super().__init__(f"the body held {what} the {expected} bytes announced")
        self.expected, self.received, self.more = expected, received, more


class LockTimeout(StorageError):
    """Another request is writing this attachment and did not finish in time."""


class AttachmentStorage(abc.ABC):
    """What the attachment services need from a place that keeps bytes."""

    @abc.abstractmethod
    def received(self, sha: str) -> int:
        """Bytes held for `sha`: the partial upload's length, the file's once complete, 0 if unknown."""

    @abc.abstractmethod
    def append(self, sha: str, offset: int, chunk_stream: BinaryIO, length: int) -> int:
        """Write exactly `length` bytes from `chunk_stream` at `offset`, durably; return the bytes now held.

        `offset` must equal `received(sha)` (else OffsetMismatch). If the stream yields fewer or more than
        `length` bytes (ChunkLengthMismatch), or raises, the partial file is put back as it was and the error
        raised.
        """

    @abc.abstractmethod
    def finalize(self, sha: str) -> bool:
        """Check the partial upload hashes to `sha`: on a match make it the complete file and return True;
        on a mismatch delete the partial upload and return False."""

    @abc.abstractmethod
    def open(self, sha: str) -> BinaryIO:
        """The complete file for reading (binary); FileNotFoundError if it is not complete."""

    @abc.abstractmethod
    def exists(self, sha: str) -> bool:
        """True when the complete, verified file is stored."""

    @abc.abstractmethod
    def discard(self, sha: str) -> None:
        """Forget a partial upload (complete files are kept: they are content-addressed and may be shared)."""

    @abc.abstractmethod
    def lock(self, sha: str, timeout: float | None = None) -> contextlib.AbstractContextManager:
        """Exclusive access to one attachment across threads and processes; LockTimeout after `timeout`
        seconds (None waits for ever)."""


def _fsync_directory(path: str) -> None:
    """Make a file's creation, rename or removal in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(file, block: bytes) -> None:
    """Unbuffered writes may be short; keep writing until the whole block is in."""
    view = memoryview(block)
    while view:
        view = view[file.write(view):]


class LocalStorage(AttachmentStorage):
    """Files in a folder on this machine; the processes of one server may share it (locks are flock(2))."""

    def __init__(self, root: str):
        self.root = root
        self.partial_dir = os.path.join(root, "partial")
        self.objects_dir = os.path.join(root, "objects")
        self.locks_dir = os.path.join(root, "locks")
        for path in (self.root, self.partial_dir, self.objects_dir, self.locks_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)

    # Paths --------------------------------------------------------------------------------------------------

    def partial_path(self, sha: str) -> str:
        return os.path.join(self.partial_dir, sha)

    def object_path(self, sha: str) -> str:
        return os.path.join(self.objects_dir, sha[:2], sha)

    # Interface ----------------------------------------------------------------------------------------------

    def received(self, sha: str) -> int:
        for path in (self.object_path(sha), self.partial_path(sha)):
            try:
                return os.stat(path).st_size
            except FileNotFoundError:
                continue
        return 0

    def append(self, sha: str, offset: int, chunk_stream: BinaryIO, length: int) -> int:
        path = self.partial_path(sha)
        created = not os.path.exists(path)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        with os.fdopen(fd, "r+b", buffering=0) as file:
            held = os.fstat(file.fileno()).st_size
            if held != offset:
                if created:
                    self._remove(path)
                raise OffsetMismatch(held)
            if created:
                _fsync_directory(self.partial_dir)
            file.seek(offset)
            written = 0
            try:
                while written < length:
                    block = chunk_stream.read(min(COPY_BLOCK, length - written))
                    if not block:
                        break
                    _write_all(file, block)
                    written += len(block)
                more = written == length and bool(chunk_stream.read(1))
                if written != length or more:
                    raise ChunkLengthMismatch(length, written, more)
                os.fsync(file.fileno())
            except BaseException:
                # Keep only what was held before this chunk: a chunk counts whole or not at all.
                file.truncate(offset)
                os.fsync(file.fileno())
                if offset == 0:
                    self._remove(path)
                raise
        return offset + length

    def finalize(self, sha: str) -> bool:
        path = self.partial_path(sha)
        digest = hashlib.sha256()
        with open(path, "rb") as file:
            for block in iter(lambda: file.read(COPY_BLOCK), b""):
                digest.update(block)
        if digest.hexdigest() != sha:
            self._remove(path)
            return False
        target = self.object_path(sha)
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        os.replace(path, target)
        _fsync_directory(os.path.dirname(target))
        _fsync_directory(self.partial_dir)
        return True

    def open(self, sha: str) -> BinaryIO:
        return open(self.object_path(sha), "rb")

    def exists(self, sha: str) -> bool:
        return os.path.isfile(self.object_path(sha))

    def discard(self, sha: str) -> None:
        self._remove(self.partial_path(sha))

    @contextlib.contextmanager
    def lock(self, sha: str, timeout: float | None = None) -> Iterator[None]:
        """flock(2) on locks/<sha>: it excludes other processes and, because each call opens its own file
        description, other threads of this process too (POSIX fcntl/lockf locks would not)."""
        path = os.path.join(self.locks_dir, sha)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                self._flock(fd, deadline)
            except BaseException:
                os.close(fd)
                raise
            # The lock file may have been removed while we waited on it: then nobody else sees our lock.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        try:
            yield
        finally:
            if self.exists(sha) and not os.path.exists(self.partial_path(sha)):
                self._remove(path)  # done with this attachment; removed while still holding the lock
            os.close(fd)  # releases the flock

    # Helpers ------------------------------------------------------------------------------------------------

    @staticmethod
    def _flock(fd: int, deadline: float | None) -> None:
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as error:
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if time.monotonic() >= deadline:
                raise LockTimeout("another upload of this attachment is in progress")
            time.sleep(LOCK_POLL_SECONDS)

    @staticmethod
    def _remove(path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


BACKENDS = {"local": lambda app: LocalStorage(os.path.join(app.instance_path, "attachments"))}
EXTENSION_KEY = "wangge.attachment_storage"


def get_storage(app) -> AttachmentStorage:
    """The app's store, chosen by config ATTACHMENT_STORAGE (default "local"), built once per app."""
    storage = app.extensions.get(EXTENSION_KEY)
    if storage is None:
        name = app.config.get("ATTACHMENT_STORAGE", "local")
        if name not in BACKENDS:
            raise RuntimeError(f"ATTACHMENT_STORAGE={name!r} is not one of {', '.join(sorted(BACKENDS))}")
        storage = app.extensions[EXTENSION_KEY] = BACKENDS[name](app)
    return storage
