"""The Android build description, checked offline by buildozer itself (building needs the SDK/NDK from outside)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SPEC = Path(__file__).resolve().parents[2] / "field_app" / "buildozer.spec"


def load(tmp_path, monkeypatch, text=None):
    from buildozer import Buildozer

    # Buildozer makes its working folders in the current directory and in ~/.buildozer: keep them in tmp_path.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "buildozer.spec"
    if text is None:
        shutil.copy(SPEC, spec)
    else:
        spec.write_text(text, encoding="utf-8")
    return Buildozer(filename=str(spec), target="android")


def test_spec_passes_buildozers_checks(tmp_path, monkeypatch):
    buildozer = load(tmp_path, monkeypatch)
    buildozer.check_configuration_tokens()  # exits on an error
    config = buildozer.config
    assert config.get("app", "title") == "网格 Wangge"
    assert config.get("app", "package.name") == "wangge"
    requirements = config.getlist("app", "requirements")
    assert {"python3", "kivy==2.3.1", "requests", "plyer==2.1.0"} <= set(requirements)
    assert {"INTERNET", "ACCESS_FINE_LOCATION", "CAMERA", "ACCESS_NETWORK_STATE"} <= set(
        config.getlist("app", "android.permissions"))
    assert "server" in config.getlist("app", "source.exclude_dirs")


def test_a_broken_spec_is_refused(tmp_path, monkeypatch):
    text = SPEC.read_text(encoding="utf-8").replace("orientation = portrait,", "orientation = sideways,")
    with pytest.raises(SystemExit):  # the constructor runs the same check
        load(tmp_path, monkeypatch, text).check_configuration_tokens()
