"""Unit-grid boundaries for central Yichang (宜昌).

The package ships an illustrative dataset (``yichang.geojson``: real district and street names and
codes, generated communities and polygons), the deterministic generator that wrote it
(:mod:`grids.generate`) and the one validator every consumer uses (:mod:`grids.validate`).
"""

from pathlib import Path

DATASET_PATH: Path = Path(__file__).resolve().parent / "yichang.geojson"

__all__ = ["DATASET_PATH"]
