"""Failed sign-ins per username and remote address, counted in process memory over a sliding window.

After `max_failures` failures within `window` seconds further attempts get 429 (with Retry-After) until the oldest
failure leaves the window; a successful sign-in clears the count. Each server process counts on its own, so with N
worker processes an attacker gets at most N times the limit. Behind a reverse proxy the remote address is the proxy's
unless the deployment applies werkzeug's ProxyFix.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager

from flask import current_app

from ..errors import ServiceError, Unauthorized

DEFAULT_MAX_FAILURES = 10
DEFAULT_WINDOW_SECONDS = 300
_SWEEP_ABOVE = 4096  # forget idle keys once this many are tracked, so memory stays bounded


class TooManyRequests(ServiceError):
    status, code = 429, "too_many_requests"

    def __init__(self, retry_after: int):
        super().__init__(f"Too many failed sign-ins; try again in {retry_after} seconds.",
                         {"password": ["too many failed attempts"]})
        self.headers = {"Retry-After": str(retry_after)}


class FailureLimiter:
    def __init__(self, max_failures: int = DEFAULT_MAX_FAILURES, window: float = DEFAULT_WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[Hashable, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: Hashable, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _sweep(self, now: float) -> None:
        for key in [k for k, times in self._failures.items() if not times or times[-1] <= now - self.window]:
            del self._failures[key]

    @contextmanager
    def guard(self, key: Hashable) -> Iterator[None]:
        """Refuse when `key` is over the limit; count an Unauthorized raised inside as a failure.

        The attempt is counted before it runs (and taken back unless it fails), so a burst of parallel attempts
        cannot slip past the limit while the password checks are still running.
        """
        with self._lock:
            now = self.clock()
            if len(self._failures) > _SWEEP_ABOVE:
                self._sweep(now)
            failures = self._recent(key, now)
            if len(failures) >= self.max_failures:
                raise TooManyRequests(max(1, math.ceil(failures[0] + self.window - now)))
            failures.append(now)
        try:
            yield
        except Unauthorized:
            raise  # the pending attempt stays counted as a failure
        except BaseException:
            self._take_back(key, now)
            raise
        with self._lock:
            self._failures.pop(key, None)  # success clears the count

    def _take_back(self, key: Hashable, moment: float) -> None:
        with self._lock:
            failures = self._failures.get(key)
            if failures and moment in failures:
                failures.remove(moment)

    def failures(self, key: Hashable) -> int:
        with self._lock:
            return len(self._recent(key, self.clock()))


def login_limiter() -> FailureLimiter:
    """The current app's limiter, made on first use from LOGIN_MAX_FAILURES and LOGIN_FAILURE_WINDOW_S."""
    limiter = current_app.extensions.get("wangge_login_limiter")
    if limiter is None:
        limiter = current_app.extensions.setdefault("wangge_login_limiter", FailureLimiter(
            max_failures=current_app.config.get("LOGIN_MAX_FAILURES", DEFAULT_MAX_FAILURES),
            window=current_app.config.get("LOGIN_FAILURE_WINDOW_S", DEFAULT_WINDOW_SECONDS)))
    return limiter
