"""Forms built from the served categories, and client validation that agrees with the server's."""
from __future__ import annotations

import pytest
from marshmallow import ValidationError

from field_support import integrity, mediation
from field_app.core.forms import CategoryForm, forms_from_served
from server.records.categories import catalogue


@pytest.fixture(scope="module")
def forms(served_categories) -> dict[str, CategoryForm]:
    return {f.key: f for f in forms_from_served(served_categories)}


def test_every_served_category_and_field_becomes_a_form(forms, served_categories):
    assert set(forms) == {c["key"] for c in served_categories["categories"]}
    mediation_form = forms["mediation"]
    assert mediation_form.text() == "矛盾纠纷调解" and mediation_form.text("en") == "Civil mediation"
    parties = mediation_form.field("parties")
    assert parties.type == "people" and parties.personal and parties.min_items == 1 and parties.max_items == 20
    assert [f.name for f in parties.item_fields] == ["name", "role", "phone"]
    assert ("neighbour", {"zh": "邻里纠纷", "en": "Neighbours"}) in mediation_form.field("dispute_type").choices
    assert forms["integrity"].confidential and forms["integrity"].field("subject").confidential
    assert forms["visit_round"].field("leaflets_delivered").max == 10000
    assert forms["integrity"].photo_fields == ["evidence"]


VALUES = [
    ("mediation", mediation()),
    ("mediation", {**mediation(), "summary": ""}),
    ("mediation", {**mediation(), "summary": "x" * 4001}),
    ("mediation", {**mediation(), "dispute_type": "aliens"}),
    ("mediation", {**mediation(), "parties": []}),
    ("mediation", {**mediation(), "parties": [{"name": "张三", "role": "judge"}]}),
    ("mediation", {**mediation(), "parties": [{"name": "张三", "role": "applicant", "phone": "abc"}]}),
    ("mediation", {**mediation(), "follow_up_on": "2026-13-01"}),
    ("mediation", {**mediation(), "follow_up_on": "2026-12-01"}),
    ("mediation", {**mediation(), "location": {"lon": 111.3, "lat": 30.7, "accuracy_m": 8, "source": "gps"}}),
    ("mediation", {**mediation(), "location": {"lon": 200, "lat": 30.7}}),
    ("mediation", {**mediation(), "photos": ["a" * 64]}),
    ("mediation", {**mediation(), "photos": ["A" * 64]}),
    ("mediation", {**mediation(), "unknown": 1}),
    ("labor_service", {"service_type": "job_referral", "person": [{"name": "王五"}], "outcome": "completed"}),
    ("labor_service", {"service_type": "job_referral", "person": [{"name": "王五"}, {"name": "赵六"}],
                       "outcome": "completed"}),
    ("integrity", integrity()),
    ("integrity", {**integrity(), "reporter": [{"name": None}]}),
    ("visit_round", {"started_at": "2026-11-27T09:00:00+08:00", "ended_at": "2026-11-27T11:00:00+08:00",
                     "households": [{"household": "3栋201", "outcome": "visited"}], "leaflets_delivered": 20}),
    ("visit_round", {"started_at": "2026-11-27T09:00:00+08:00", "ended_at": "2026-11-27T11:00:00+08:00",
                     "households": [{"household": "3栋201", "outcome": "visited"}], "leaflets_delivered": -1}),
    ("visit_round", {"started_at": "9点", "ended_at": "2026-11-27T11:00:00+08:00",
                     "households": [{"household": "3栋201", "outcome": "visited"}], "topics": ["safety", "x"]}),
    ("visit_round", {"started_at": "2026-11-27T09:00:00+08:00", "ended_at": "2026-11-27T11:00:00+08:00",
                     "households": [{"household": "1", "outcome": "visited"}], "issues_found": ["not-a-uuid"],
                     "leaflets_delivered": True}),
]


@pytest.mark.parametrize("category,values", VALUES)
def test_client_validation_agrees_with_the_server(forms, category, values):
    client_errors = forms[category].validate(values)
    try:
        catalogue().get(category).load(values, partial=False)
        server_ok = True
    except ValidationError:
        server_ok = False
    # the client may be stricter about empty text in a required field; otherwise both say the same
    if values.get("summary") == "":
        assert client_errors and server_ok
        return
    assert (not client_errors) == server_ok, client_errors
    assert all(isinstance(message, str) and message for message in client_errors.values())
