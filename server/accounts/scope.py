"""Scopes: which part of the city > district > street > community > grid hierarchy a user may see and act in."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, or_, true

CITY_CODE = "420500"  # 宜昌市; a scope on the city covers every district
LEVEL_BY_LENGTH = {6: "district", 9: "street", 12: "community", 15: "grid"}


def scope_level(code: str) -> str | None:
    if code == CITY_CODE:
        return "city"
    return LEVEL_BY_LENGTH.get(len(code)) if code.isdigit() else None


@dataclass(frozen=True)
class Scope:
    codes: tuple[str, ...]

    @property
    def is_city(self) -> bool:
        return CITY_CODE in self.codes

    def allows_grid(self, grid_code: str) -> bool:
        """A grid is in scope when one of the scope codes is a prefix of its code (or the scope is the city)."""
        return self.is_city or any(grid_code.startswith(code) for code in self.codes)

    def filter(self, model):
        """An SQL condition on a model with grid/community/street/district code columns (e.g. Record)."""
        if self.is_city:
            return true()
        columns = {6: model.district_code, 9: model.street_code, 12: model.community_code, 15: model.grid_code}
        by_length: dict[int, list[str]] = {}
        for code in self.codes:
            by_length.setdefault(len(code), []).append(code)
        conditions = [columns[length].in_(codes) for length, codes in by_length.items() if length in columns]
        return or_(*conditions) if conditions else false()
