"""Fixtures and builders shared by the grid dataset/validator tests."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace
from typing import Any

import pytest

from grids import DATASET_PATH

COMMUNITY = "420502001001"


@pytest.fixture(scope="session")
def shipped() -> dict:
    """The shipped dataset, parsed once; tests must deep-copy before modifying (use `sample`)."""
    return json.loads(DATASET_PATH.read_text(encoding="utf-8"))


@pytest.fixture
def sample(shipped: dict) -> list[dict]:
    """Deep copies of the first three grids of the first community (neighbours in one row)."""
    return copy.deepcopy(shipped["features"][:3])


@pytest.fixture(scope="session")
def build() -> SimpleNamespace:
    """The builders below, as a fixture: test modules cannot safely `import conftest` by name."""
    return SimpleNamespace(collection=collection, square=square_feature, rect=rect_feature)


def collection(features: list[dict], **extra: Any) -> dict:
    return {"type": "FeatureCollection", **extra, "features": features}


def square_feature(seq: int, x: int, y: int, *, size: int = 1, community: str = COMMUNITY,
                   community_name: str = "测试社区", households: int | None = 400) -> dict:
    """An axis-aligned square grid of `size` lattice units (1 unit = 0.001°) at lattice (x, y), CCW."""
    unit = 0.001
    x0, y0 = round(111.3 + x * unit, 6), round(30.7 + y * unit, 6)
    x1, y1 = round(111.3 + (x + size) * unit, 6), round(30.7 + (y + size) * unit, 6)
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return rect_feature(seq, ring, community=community, community_name=community_name, households=households)


def rect_feature(seq: int, ring: list[list[float]], *, community: str = COMMUNITY,
                 community_name: str = "测试社区", households: int | None = 400) -> dict:
    street, district = community[:9], community[:6]
    properties = {
        "grid_code": f"{community}{seq:03d}", "grid_name": f"{community_name}第{seq}网格",
        "community_code": community, "community_name": community_name,
        "street_code": street, "street_name": f"街道{street}",
        "district_code": district, "district_name": f"区{district}",
    }
    if households is not None:
        properties["households"] = households
    geometry = {"type": "Polygon", "coordinates": [ring]}
    return {"type": "Feature", "properties": properties, "geometry": geometry}
