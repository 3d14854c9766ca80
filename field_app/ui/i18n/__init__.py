"""The UI's words in 简体中文 (default) and English.

`tr(key, lang)` looks a key up; kv rules call it as `tr('home.sync', app.language)` so that the rule depends on the
App's `language` property and every label re-translates itself when the language changes. Python code calls
`tr(key)` (the current language) and `tr(key, **values)` for text with `{placeholders}`. Served words (category and
field labels) come from the server as `{"zh": ..., "en": ...}`; `pick()` chooses from such a mapping.
"""
from __future__ import annotations

from . import en, zh

LANGUAGES = {"zh": zh.STRINGS, "en": en.STRINGS}
LANGUAGE_NAMES = {"zh": "简体中文", "en": "English"}
DEFAULT = "zh"
_current = DEFAULT


def set_language(lang: str) -> str:
    global _current
    _current = lang if lang in LANGUAGES else DEFAULT
    return _current


def current_language() -> str:
    return _current


def tr(key: str, lang: str | None = None, **values) -> str:
    table = LANGUAGES.get(lang or _current, LANGUAGES[DEFAULT])
    text = table.get(key)
    if text is None:
        text = LANGUAGES[DEFAULT].get(key, key)
    return text.format(**values) if values else text


def pick(labels, lang: str | None = None) -> str:
    """A served label in the current language ({'zh': ..., 'en': ...}), falling back to Chinese, then anything."""
    if isinstance(labels, str):
        return labels
    if not labels:
        return ""
    lang = lang or _current
    return labels.get(lang) or labels.get(DEFAULT) or next(iter(labels.values()), "")
