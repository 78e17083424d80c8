"""Alerts received through the Alertmanager-compatible door (``tasks/alerts/door.py``) as a
source: a rule with the ``alertmanager`` source reads the alerts active at its slot
(``starts_at <= slot < ends_at``), each a row of its labels and the value 1, so they fire and
resolve through the same instances, state machine and notices as every other rule."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from tasks.alerts.errors import EvaluationFailed
from tasks.alerts.instances import fingerprint
from tasks.alerts.sql import MAX_ROWS
from workers.store.engine import session_scope
from workers.store.models import ReceivedAlert


class AlertmanagerSpec(BaseModel):
    """``alertmanager``: the alerts received that are active at the slot (value 1), those
    whose labels include every one of ``matchers`` (default: all)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    matchers: dict[str, str] = Field(default_factory=dict, max_length=20)


def read(spec: AlertmanagerSpec, slot_at: datetime) -> list[tuple[dict[str, str], float]]:
    """The alerts active at ``slot_at`` that match ``spec``, each a row with value 1."""
    query = (
        select(ReceivedAlert.labels)
        .where(ReceivedAlert.starts_at <= slot_at, ReceivedAlert.ends_at > slot_at)
        .order_by(ReceivedAlert.created_at)
    )
    with session_scope() as session:
        found = [dict(labels) for labels in session.scalars(query)]
    wanted = spec.matchers.items()
    rows = [(labels, 1.0) for labels in found if wanted <= labels.items()]
    if len(rows) > MAX_ROWS:
        raise EvaluationFailed(f"more than {MAX_ROWS} received alerts are active; narrow matchers")
    return rows


def annotations_for(labels: dict[str, str], rule_labels: dict[str, str]) -> dict[str, str]:
    """The annotations last posted with the alert an instance stands for (its labels less the
    rule's own), or none."""
    own = {key: value for key, value in labels.items() if key not in rule_labels}
    query = select(ReceivedAlert.annotations).where(ReceivedAlert.fingerprint == fingerprint(own))
    with session_scope() as session:
        found = session.scalar(query)
    return dict(found) if found else {}
