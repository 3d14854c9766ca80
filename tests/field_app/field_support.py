"""Builders shared by the tablet core's tests (imported by name; fixtures live in conftest.py)."""
from __future__ import annotations

from field_app.core.app import FieldCore


def mediation(summary: str = "楼上漏水，双方就维修费用争执", **extra) -> dict:
    return {"dispute_type": "neighbour",
            "parties": [{"name": "张三", "role": "applicant", "phone": "13800000000"},
                        {"name": "李四", "role": "respondent"}],
            "summary": summary, "outcome": "in_progress", **extra}


def integrity() -> dict:
    return {"urgency": "urgent", "subject_kind": "community_cadre", "subject": "某社区主任",
            "concern_type": "benefit_favouritism", "description": "为亲属违规办理低保", "source": "resident_report"}


def enroll_core(app, url: str, folder, grid: str, **kwargs) -> FieldCore:
    """A FieldCore enrolled on a real server through the real flow: user, one-time code, POST /devices/enroll."""
    from factories import enrollment_code, make_user

    username = make_user(app, scopes=[grid])
    code = enrollment_code(app, username)
    core = FieldCore(folder, **kwargs)
    core.enroll(url, code, label="测试平板")
    return core
