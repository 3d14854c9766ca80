"""Fixtures for the tablet core's tests: a deterministic clock, forms from the real served categories, a core on a
real server enrolled through the real enrollment-code flow."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from server.records.categories import catalogue

# Grids of 伍家岗街道 (420503004...): no other test module writes there, so pulls see only these tests' records.
GRIDS = [f"420503004{community:03d}{grid:03d}" for community, count in ((1, 6), (2, 10), (3, 13)) for grid in
         range(1, count + 1)]


class FakeClock:
    """A device clock that moves only when told to (and a little on every reading, so times stay ordered)."""

    def __init__(self, start=datetime(2026, 11, 27, 6, 0, tzinfo=timezone.utc), step_ms: int = 1):
        self.now = start
        self.step = timedelta(milliseconds=step_ms)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(scope="session")
def served_categories() -> dict:
    """Exactly what GET /api/v1/categories serves."""
    return json.loads(json.dumps(catalogue().served(), ensure_ascii=False))


class GridPool:
    """Hands out a fresh grid per test (per backend), so tests never see each other's records in a pull."""

    def __init__(self):
        self.free = list(GRIDS)

    def take(self) -> str:
        return self.free.pop(0)


_pools: dict[int, GridPool] = {}


@pytest.fixture
def fresh_grid(grid_app) -> str:
    return _pools.setdefault(id(grid_app), GridPool()).take()
