"""A small TCP proxy between the tablet core and a real server, for flaky-network tests. Scripted actions apply to
the answer of the next request whose first line starts with a given prefix (e.g. b"POST /api/v1/sync/push"):
  "drop"        wait until the server has answered (so it has committed), then close the tablet's connection;
  ("delay", s)  hold the answer back for s seconds (longer than the tablet's read timeout)."""
from __future__ import annotations

import socket
import threading
import time


class FlakyProxy:
    def __init__(self, upstream_port: int):
        self.upstream = ("127.0.0.1", upstream_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(32)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.script: list[tuple[bytes, object]] = []
        self.done: list[object] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def on(self, prefix: bytes, action) -> None:
        with self._lock:
            self.script.append((prefix, action))

    def _take(self, data: bytes):
        with self._lock:
            for index, (prefix, action) in enumerate(self.script):
                if data.startswith(prefix):
                    del self.script[index]
                    return action
        return None

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=30)
            except OSError:
                client.close()
                continue
            state = {"action": None}
            threading.Thread(target=self._up, args=(client, server, state), daemon=True).start()
            threading.Thread(target=self._down, args=(server, client, state), daemon=True).start()

    def _up(self, client, server, state) -> None:
        try:
            while data := client.recv(65536):
                action = self._take(data)
                if action is not None:
                    state["action"] = action
                server.sendall(data)
        except OSError:
            pass
        finally:
            _close(server)

    def _down(self, server, client, state) -> None:
        try:
            while data := server.recv(65536):
                action, state["action"] = state["action"], None
                if action == "drop":
                    self.done.append("drop")
                    _close(client)
                    return
                if isinstance(action, tuple) and action[0] == "delay":
                    self.done.append("delay")
                    time.sleep(action[1])
                client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)

    def close(self) -> None:
        self._closed = True
        _close(self.listener)


def _close(sock) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
