"""Find a font with Chinese glyphs and make it every widget's default.

Kivy's bundled Roboto has no CJK glyphs, so Chinese shows as boxes. We look through the user's `font_path` setting
first, then fonts known to exist on Debian and Android, and register the first one found under the name 'Roboto'
(the default `font_name` of Label and TextInput), so every widget renders Chinese without naming a font.
No font file is shipped with the app.
"""
from __future__ import annotations

import os

CANDIDATES = (
    # Debian / Ubuntu (fonts-wqy-microhei, fonts-noto-cjk, fonts-wqy-zenhei, fonts-arphic-*)
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    # Android
    "/system/fonts/NotoSansCJK-Regular.ttc",
    "/system/fonts/NotoSansSC-Regular.otf",
    "/system/fonts/DroidSansFallback.ttf",
    "/system/fonts/DroidSansFallbackFull.ttf",
    # macOS and Windows, for developers' machines
    "/System/Library/Fonts/PingFang.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)

_registered: str | None = None


def find_cjk_font(setting: str | None = None, candidates=CANDIDATES) -> str | None:
    """The first readable font file: the setting if it names one, else the first known path that exists."""
    for path in ([setting] if setting else []) + list(candidates):
        if path and os.path.isfile(path) and os.access(path, os.R_OK):
            return path
    return None


def install_default_font(setting: str | None = None) -> str | None:
    """Register the CJK font as Kivy's default ('Roboto') and return its path; None leaves Kivy's own font."""
    global _registered
    path = find_cjk_font(setting)
    if path is None:
        from kivy.logger import Logger

        Logger.warning("Fonts: no CJK font found; Chinese text will show as boxes. Set a font in Settings.")
        return None
    if path != _registered:
        from kivy.core.text import LabelBase

        LabelBase.register("Roboto", fn_regular=path, fn_bold=path, fn_italic=path, fn_bolditalic=path)
        _registered = path
    return path


def registered_font() -> str | None:
    return _registered
