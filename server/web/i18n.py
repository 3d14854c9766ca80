"""Page language: Simplified Chinese by default, English on request (?lang=en, remembered in a cookie).

The strings are a small catalogue (i18n_catalog.json: key -> {"zh", "en"}); templates call `_("key")`.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from flask import Flask, g, request

LANGUAGES = ("zh", "en")
DEFAULT = "zh"
COOKIE = "wangge_lang"


@functools.lru_cache(maxsize=1)
def catalog() -> dict[str, dict[str, str]]:
    return json.loads(Path(__file__).with_name("i18n_catalog.json").read_text(encoding="utf-8"))


def current_language() -> str:
    if "lang" not in g:
        wanted = request.args.get("lang") or request.cookies.get(COOKIE) or DEFAULT
        g.lang = wanted if wanted in LANGUAGES else DEFAULT
    return g.lang


def translate(key: str, **values) -> str:
    entry = catalog().get(key)
    text = entry.get(current_language()) or entry.get(DEFAULT) if entry else key
    return text.format(**values) if values else text


def label(labels: dict | None) -> str:
    """Pick the current language from a {"zh": ..., "en": ...} label (as in categories.json)."""
    if not labels:
        return ""
    return labels.get(current_language()) or labels.get(DEFAULT) or next(iter(labels.values()))


def _remember_language(response):
    if request.args.get("lang") in LANGUAGES:
        response.set_cookie(COOKIE, request.args["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(_=translate, label=label, current_language=current_language, LANGUAGES=LANGUAGES)
    app.after_request(_remember_language)
