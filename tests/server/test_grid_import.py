"""`flask grids import|validate`: idempotent, all-or-nothing, and clear about bad files."""
import copy
import json

import pytest
from sqlalchemy import func, select

from grids import DATASET_PATH
from server.extensions import db
from server.geo.models import Community, Grid, GridImport

SHIPPED = json.loads(DATASET_PATH.read_text(encoding="utf-8"))


def _write(tmp_path, data, name="grids.geojson") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _grid_state(app) -> dict:
    with app.app_context():
        return {g.code: (g.id, g.name, g.households, g.geometry, g.retired_at)
                for g in db.session.scalars(select(Grid))}


def test_import_then_reimport_is_idempotent_and_keeps_ids(empty_app, runner):
    first = runner.invoke(args=["grids", "import", str(DATASET_PATH)])
    assert first.exit_code == 0, first.output
    assert "1110 created" in first.output
    before = _grid_state(empty_app)
    assert len(before) == 1110
    with empty_app.app_context():
        assert db.session.scalar(select(func.count(Community.id))) == 121

    second = runner.invoke(args=["grids", "import", str(DATASET_PATH)])
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 1110 unchanged" in second.output
    assert _grid_state(empty_app) == before


def test_reimport_updates_in_place(empty_app, runner, tmp_path):
    assert runner.invoke(args=["grids", "import", str(DATASET_PATH)]).exit_code == 0
    before = _grid_state(empty_app)
    changed = copy.deepcopy(SHIPPED)
    feature = changed["features"][10]
    feature["properties"]["grid_name"] = "新名字网格"
    feature["properties"]["households"] = 999
    result = runner.invoke(args=["grids", "import", _write(tmp_path, changed)])
    assert result.exit_code == 0, result.output
    assert "1 updated" in result.output
    after = _grid_state(empty_app)
    code = feature["properties"]["grid_code"]
    assert after[code][0] == before[code][0]  # same id
    assert after[code][1:3] == ("新名字网格", 999)
    assert {k: v for k, v in after.items() if k != code} == {k: v for k, v in before.items() if k != code}


def _break(kind: str) -> tuple[object, str, int]:
    """A copy of the shipped file with every grid renamed (to catch partial writes) and one defect.

    Returns (data, rule word expected in the message, index of the broken feature).
    """
    data = copy.deepcopy(SHIPPED)
    for feature in data["features"]:
        feature["properties"]["grid_name"] += "（改）"
    features = data["features"]
    props = features[7]["properties"]
    if kind == "point":
        features[7]["geometry"] = {"type": "Point", "coordinates": [111.3, 30.7]}
        return data, "Point", 7
    if kind == "bow-tie":
        features[7]["geometry"] = {"type": "Polygon", "coordinates": [[[111.30, 30.70], [111.31, 30.71],
                                                                      [111.31, 30.70], [111.30, 30.71],
                                                                      [111.30, 30.70]]]}
        return data, "invalid", 7
    if kind == "overlap":
        features[7]["geometry"] = copy.deepcopy(features[8]["geometry"])
        return data, "overlap", 7
    if kind == "bad-code":
        props["grid_code"] = props["grid_code"][:-1] + "X"
        return data, "15", 7
    if kind == "legacy-code":
        props["grid_code"] = props["grid_code"][:12] + "07"
        return data, "14", 7
    if kind == "duplicate":
        props["grid_code"] = features[6]["properties"]["grid_code"]
        return data, "duplicate", 7
    if kind == "not-under-community":
        props["grid_code"] = "420599001001" + props["grid_code"][-3:]
        return data, "not under", 7
    if kind == "missing-property":
        del props["community_code"]
        return data, "community_code", 7
    raise AssertionError(kind)


BAD_KINDS = ["point", "bow-tie", "overlap", "bad-code", "legacy-code", "duplicate", "not-under-community",
             "missing-property"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_file_is_rejected_naming_the_feature_and_changes_nothing(empty_app, runner, tmp_path, kind):
    assert runner.invoke(args=["grids", "import", str(DATASET_PATH)]).exit_code == 0
    before = _grid_state(empty_app)
    data, words, index = _break(kind)
    path = _write(tmp_path, data)

    result = runner.invoke(args=["grids", "import", path])
    assert result.exit_code != 0
    assert f"#{index}" in result.output
    assert words.lower() in result.output.lower()
    assert "nothing was changed" in result.output
    assert _grid_state(empty_app) == before
    with empty_app.app_context():
        assert db.session.scalar(select(func.count(GridImport.id))) == 1

    validated = runner.invoke(args=["grids", "validate", path])
    assert validated.exit_code != 0 and f"#{index}" in validated.output


@pytest.mark.parametrize("content,words", [
    ('{"type": "FeatureCollection", "features": [', "json"),
    ('{"type": "Feature"}', "featurecollection"),
    ("", "json"),
])
def test_unparseable_files_are_rejected(empty_app, runner, tmp_path, content, words):
    result = runner.invoke(args=["grids", "import", _write(tmp_path, content)])
    assert result.exit_code != 0
    assert words in result.output.lower()
    assert _grid_state(empty_app) == {}


def test_missing_file_is_rejected(runner, tmp_path):
    result = runner.invoke(args=["grids", "import", str(tmp_path / "absent.geojson")])
    assert result.exit_code != 0 and "cannot read" in result.output


def test_missing_grids_are_kept_unless_retired(empty_app, runner, tmp_path):
    assert runner.invoke(args=["grids", "import", str(DATASET_PATH)]).exit_code == 0
    partial = copy.deepcopy(SHIPPED)
    dropped = [f["properties"]["grid_code"] for f in partial["features"][-3:]]
    partial["features"] = partial["features"][:-3]
    path = _write(tmp_path, partial)

    kept = runner.invoke(args=["grids", "import", path])
    assert kept.exit_code == 0 and "3 grids in the database are not in this file" in kept.output
    client = empty_app.test_client()
    assert client.get(f"/api/v1/grids/{dropped[0]}").status_code == 200

    retired = runner.invoke(args=["grids", "import", path, "--retire-missing"])
    assert retired.exit_code == 0 and "3 retired" in retired.output
    assert client.get(f"/api/v1/grids/{dropped[0]}").status_code == 404
    body = json.loads(client.get("/api/v1/grids").data)
    assert len(body["features"]) == 1107
    state = _grid_state(empty_app)
    assert all(state[code][4] is not None for code in dropped)  # retired, not deleted

    # Bringing them back un-retires them under the same ids.
    back = runner.invoke(args=["grids", "import", str(DATASET_PATH)])
    assert back.exit_code == 0 and "3 updated" in back.output
    assert _grid_state(empty_app)[dropped[0]][0] == state[dropped[0]][0]
    assert len(json.loads(client.get("/api/v1/grids").data)["features"]) == 1110


def test_import_changes_the_collection_etag(empty_app, runner, tmp_path):
    client = empty_app.test_client()
    empty_tag = client.get("/api/v1/grids").headers["ETag"]
    assert runner.invoke(args=["grids", "import", str(DATASET_PATH)]).exit_code == 0
    response = client.get("/api/v1/grids", headers={"If-None-Match": empty_tag})
    assert response.status_code == 200 and len(json.loads(response.data)["features"]) == 1110


def test_validate_command_accepts_the_shipped_file_strictly(runner):
    result = runner.invoke(args=["grids", "validate", str(DATASET_PATH), "--strict"])
    assert result.exit_code == 0, result.output
    assert "ok: 1110 grids, 0 warning(s)" in result.output
