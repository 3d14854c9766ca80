"""Deterministic generator for the illustrative Yichang grid dataset (``grids/yichang.geojson``).

Real district and street names and codes; generated communities, grids and polygons.

Method: one jittered lattice of ~75 m cells covers the city.  Each district is a block of lattice
cells; a recursive guillotine partition in lattice-index space splits it into streets, streets into
communities (areas proportional to grid counts), and each community into rows of grids.  A grid's
polygon is the lattice points along its rectangle's perimeter, walked counter-clockwise, so
neighbouring grids share exactly the same vertices and the tiling is exact after rounding.
Only integer arithmetic, + - * / and ``random.Random(SEED)`` are used, so output is byte-identical
on every platform.

Usage: ``python -m grids.generate [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from grids import DATASET_PATH

SEED = 20120611
TOTAL_GRIDS = 1110
GRIDS_PER_COMMUNITY = (5, 14)
HOUSEHOLDS = (300, 500)
DECIMALS = 6

# Lattice spacing: about 75 m east-west and north-south at 30.7° N.
DLON, DLAT = 0.00078, 0.00068
CELL_W_M, CELL_H_M = 74.7, 75.2
LAT0 = 30.600          # latitude of lattice row j = 0
JITTER = 0.12          # maximum vertex displacement, as a fraction of the spacing (well under 1/4)
MIN_SIDE = 3           # every grid is at least 3 x 3 cells
CELLS_PER_GRID = 17    # sizes the district blocks: about 0.095 km² a grid

DISTRICTS = {"420502": "西陵区", "420503": "伍家岗区", "420504": "点军区"}


@dataclass(frozen=True)
class Street:
    district: str
    code: str          # full 9-digit street code
    name: str
    communities: int


STREETS = (
    Street("420502", "420502001", "西陵街道", 14),
    Street("420502", "420502002", "学院街道", 18),
    Street("420502", "420502003", "云集街道", 12),
    Street("420502", "420502004", "西坝街道", 7),
    Street("420502", "420502005", "葛洲坝街道", 10),
    Street("420502", "420502006", "夜明珠街道", 12),
    Street("420502", "420502200", "窑湾乡", 2),   # 乡 codes are 200-399; 200 is an assumption
    Street("420503", "420503001", "大公桥街道", 8),
    Street("420503", "420503002", "万寿桥街道", 8),
    Street("420503", "420503003", "宝塔河街道", 12),
    Street("420503", "420503004", "伍家岗街道", 13),
    Street("420504", "420504001", "点军街道", 5),
)


@dataclass(frozen=True)
class Block:
    """Half-open rectangle of lattice cells.

    Columns i0..i1-1 run west to east, rows j0..j1-1 south to north; vertices are i0..i1, j0..j1.
    """
    i0: int
    j0: int
    i1: int
    j1: int

    @property
    def width(self) -> int:
        return self.i1 - self.i0

    @property
    def height(self) -> int:
        return self.j1 - self.j0


# Where each group of streets sits in lattice space.  Column 0 follows the Yangtze's left bank
# (see _bank_lon) and columns -12..0 are the river, about 1 km wide: 西陵 on the left bank, 伍家岗 downstream to the south-east, 窑湾 on 西陵's
# landward side, 点军 across the river.  (rows south edge, rows north edge, first column or None)
_GROUPS = {
    "xiling": (80, 200, 2),                 # 西陵区 streets 001-006
    "yaowan": (176, 200, None),             # 窑湾乡: east of the 西陵 block, top-aligned
    "wujiagang": (0, 80, 2),                # 伍家岗区, sharing its north edge with 西陵
    "dianjun": (64, 100, None),             # 点军区: west of the river, ending at column -12
}


def _group_of(street: Street) -> str:
    if street.code == "420502200":
        return "yaowan"
    return {"420502": "xiling", "420503": "wujiagang", "420504": "dianjun"}[street.district]


def _bank_lon(lat: float) -> float:
    """Longitude of the Yangtze's left bank: from 葛洲坝 (30.74 N) bending east past 伍家岗."""
    d = 30.70 - lat
    return 111.300 + 0.60 * d + 1.2 * d * d


# ---------------------------------------------------------------- allocation

def community_grid_counts(rng: random.Random, communities: int) -> list[int]:
    """Grids per community, each in GRIDS_PER_COMMUNITY, summing to exactly TOTAL_GRIDS."""
    low, high = GRIDS_PER_COMMUNITY
    counts = [rng.randint(low, high) for _ in range(communities)]
    while (excess := sum(counts) - TOTAL_GRIDS) != 0:
        k = rng.randrange(communities)
        if excess > 0 and counts[k] > low:
            counts[k] -= 1
        elif excess < 0 and counts[k] < high:
            counts[k] += 1
    return counts


def _group_blocks(street_grids: dict[str, int]) -> dict[str, Block]:
    totals: dict[str, int] = {}
    for street in STREETS:
        totals[_group_of(street)] = totals.get(_group_of(street), 0) + street_grids[street.code]
    blocks: dict[str, Block] = {}
    for group in ("xiling", "yaowan", "wujiagang", "dianjun"):
        j0, j1, i0 = _GROUPS[group]
        width = math.ceil(totals[group] * CELLS_PER_GRID / (j1 - j0))
        if group == "yaowan":
            i0 = blocks["xiling"].i1
        elif group == "dianjun":
            i0 = -12 - width
        blocks[group] = Block(i0, j0, i0 + width, j1)
    return blocks


def guillotine(block: Block, weights: list[int]) -> list[Block]:
    """Split block into len(weights) blocks with areas proportional to weights, in order.

    The list is cut into its two most balanced halves; the block is cut across its longer side,
    the first half going west (or north), so sequence numbers run from the north-west corner.
    """
    if len(weights) == 1:
        return [block]
    total = sum(weights)
    k = min(range(1, len(weights)), key=lambda n: (abs(2 * sum(weights[:n]) - total), n))
    share = sum(weights[:k]) / total
    if block.width * CELL_W_M >= block.height * CELL_H_M:
        cut = _cut(block.width, share, k, len(weights) - k)
        first, second = Block(block.i0, block.j0, block.i0 + cut, block.j1), Block(block.i0 + cut, block.j0,
                                                                                  block.i1, block.j1)
    else:
        cut = _cut(block.height, share, k, len(weights) - k)
        first, second = Block(block.i0, block.j1 - cut, block.i1, block.j1), Block(block.i0, block.j0,
                                                                                  block.i1, block.j1 - cut)
    return guillotine(first, weights[:k]) + guillotine(second, weights[k:])


def _cut(length: int, share: float, left_items: int, right_items: int) -> int:
    if length < 2 * MIN_SIDE:
        raise ValueError(f"cannot cut a side of {length} cells between {left_items} and {right_items} parts")
    # Leave room for at least one minimum-sized grid on each side; grid_rows checks the rest.
    return max(MIN_SIDE, min(length - MIN_SIDE, round(length * share)))


def apportion(total: int, weights: list[int], minimum: int, rng: random.Random) -> list[int]:
    """Integer sizes >= minimum summing to total, roughly proportional to weights."""
    spare = total - minimum * len(weights)
    if spare < 0:
        raise ValueError(f"{total} cells cannot hold {len(weights)} parts of at least {minimum}")
    wsum = sum(weights)
    sizes = [spare * w // wsum for w in weights]
    order = list(range(len(weights)))
    rng.shuffle(order)   # which parts get the leftover cells varies, for less regular shapes
    for k in order[: spare - sum(sizes)]:
        sizes[k] += 1
    return [minimum + s for s in sizes]


def grid_rows(block: Block, grids: int, rng: random.Random) -> list[list[Block]]:
    """Lay a community out as rows of grids, rows north to south, grids west to east within a row."""
    best: tuple[float, int] | None = None
    for rows in range(1, grids + 1):
        per_row = math.ceil(grids / rows)
        if block.height < MIN_SIDE * rows or block.width < MIN_SIDE * per_row:
            continue
        ratio = (block.width * CELL_W_M * rows * rows) / (block.height * CELL_H_M * grids)
        aspect = max(ratio, 1 / ratio)   # 1 for square grids; no log, to stay platform-exact
        if best is None or aspect < best[0]:
            best = (aspect, rows)
    if best is None:
        raise ValueError(f"block {block} is too small for {grids} grids")
    rows = best[1]
    counts = [grids // rows] * rows
    for k in rng.sample(range(rows), grids % rows):
        counts[k] += 1
    heights = apportion(block.height, counts, MIN_SIDE, rng)
    layout, top = [], block.j1
    for count, height in zip(counts, heights):
        widths = apportion(block.width, [1] * count, MIN_SIDE, rng)
        left, row = block.i0, []
        for width in widths:
            row.append(Block(left, top - height, left + width, top))
            left += width
        layout.append(row)
        top -= height
    return layout


# ---------------------------------------------------------------- geometry

class Lattice:
    """Jittered lattice: vertex (i, j) -> (lon, lat), rounded to 6 decimals."""

    def __init__(self, rng: random.Random, blocks: list[Block]) -> None:
        self.i_min = min(b.i0 for b in blocks)
        self.j_min = min(b.j0 for b in blocks)
        i_max, j_max = max(b.i1 for b in blocks), max(b.j1 for b in blocks)
        self.columns = i_max - self.i_min + 1
        self.offsets = [(rng.uniform(-JITTER, JITTER), rng.uniform(-JITTER, JITTER))
                        for _ in range((j_max - self.j_min + 1) * self.columns)]

    def vertex(self, i: int, j: int) -> list[float]:
        dx, dy = self.offsets[(j - self.j_min) * self.columns + (i - self.i_min)]
        lat = LAT0 + j * DLAT
        # The bank shift depends on the row only, so a row of grids stays a west-to-east row.
        lon = _bank_lon(lat) + (i + dx) * DLON
        return [round(lon, DECIMALS), round(lat + dy * DLAT, DECIMALS)]

    def ring(self, b: Block) -> list[list[float]]:
        """The lattice points along the block's perimeter, counter-clockwise, closed."""
        points = [(i, b.j0) for i in range(b.i0, b.i1)]
        points += [(b.i1, j) for j in range(b.j0, b.j1)]
        points += [(i, b.j1) for i in range(b.i1, b.i0, -1)]
        points += [(b.i0, j) for j in range(b.j1, b.j0, -1)]
        points.append((b.i0, b.j0))
        return [self.vertex(i, j) for i, j in points]


# ---------------------------------------------------------------- the dataset

def build_collection(seed: int = SEED) -> dict:
    rng = random.Random(seed)
    counts = community_grid_counts(rng, sum(s.communities for s in STREETS))
    per_street: dict[str, list[int]] = {}
    for street in STREETS:
        per_street[street.code], counts = counts[: street.communities], counts[street.communities:]
    street_grids = {code: sum(c) for code, c in per_street.items()}
    groups = _group_blocks(street_grids)
    street_blocks: dict[str, Block] = {}
    for group, block in groups.items():
        members = [s for s in STREETS if _group_of(s) == group]
        for street, sub in zip(members, guillotine(block, [street_grids[s.code] for s in members])):
            street_blocks[street.code] = sub
    lattice = Lattice(rng, list(groups.values()))
    features = []
    for street in STREETS:
        community_blocks = guillotine(street_blocks[street.code], per_street[street.code])
        for number, (block, grids) in enumerate(zip(community_blocks, per_street[street.code]), start=1):
            community_code = f"{street.code}{number:03d}"
            community_name = f"{street.name}第{number}社区"
            cells = [cell for row in grid_rows(block, grids, rng) for cell in row]
            for seq, cell in enumerate(cells, start=1):
                properties = {
                    "grid_code": f"{community_code}{seq:03d}",
                    "grid_name": f"{community_name}第{seq}网格",
                    "community_code": community_code,
                    "community_name": community_name,
                    "street_code": street.code,
                    "street_name": street.name,
                    "district_code": street.district,
                    "district_name": DISTRICTS[street.district],
                    "households": rng.randint(*HOUSEHOLDS),
                }
                geometry = {"type": "Polygon", "coordinates": [lattice.ring(cell)]}
                features.append({"type": "Feature", "properties": properties, "geometry": geometry})
    return {
        "type": "FeatureCollection",
        "name": "宜昌市中心城区单元网格 (illustrative)",
        "description": ("Illustrative unit grids for central Yichang: real district and street names and "
                        "codes, generated community names and generated boundaries. Not a survey. "
                        "WGS84 lon/lat."),
        "features": features,
    }


def render(collection: dict) -> str:
    """Compact JSON with one feature per line, so git diffs stay readable."""
    def dump(value: object) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    head = {k: v for k, v in collection.items() if k != "features"}
    lines = ",\n".join(dump(f) for f in collection["features"])
    return f'{dump(head)[:-1]},"features":[\n{lines}\n]}}\n'


def generate(out: Path = DATASET_PATH, seed: int = SEED) -> Path:
    """Build, check strictly, and write the dataset; raises ValueError if the result is not perfect."""
    from grids.validate import validate_collection

    collection = build_collection(seed)
    report = validate_collection(collection, strict=True)
    if report.problems:
        details = "\n".join(str(p) for p in report.problems[:20])
        raise ValueError(f"generated dataset fails validation:\n{details}")
    Path(out).write_text(render(collection), encoding="utf-8", newline="\n")
    return Path(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m grids.generate",
                                     description="Write the illustrative Yichang grid dataset.")
    parser.add_argument("--out", type=Path, default=DATASET_PATH,
                        help=f"output path (default {DATASET_PATH})")
    args = parser.parse_args(argv)
    path = generate(args.out)
    print(f"wrote {path} ({path.stat().st_size:,} bytes, {TOTAL_GRIDS} grids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
