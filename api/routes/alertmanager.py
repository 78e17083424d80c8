"""The Alertmanager-compatible door: ``POST /api/v2/alerts`` takes the alerts a Prometheus
server's ``alerting:`` section sends, with Alertmanager's JSON and times, so they go through
Taskyard's rules, state machine and channels (``tasks/alerts/door.py``). Needs `alerts:write`.
A body that does not validate is a 422 in the one error shape, naming the alert and field."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.auth import AlertSendKey
from api.errors import ApiProblem
from api.schemas import error_responses
from tasks.alerts import door
from tasks.alerts.rules import LABEL_NAME
from workers.storable import Unstorable, check_document
from workers.store.types import utcnow

router = APIRouter(prefix="/api/v2", tags=["alerts"])

MAX_LABELS = 50
MAX_VALUE = 1_000
MAX_ANNOTATION = 10_000
LabelName = Annotated[str, StringConstraints(pattern=f"^{LABEL_NAME.pattern}$", strict=True)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_VALUE, strict=True)]
Annotation = Annotated[str, StringConstraints(max_length=MAX_ANNOTATION, strict=True)]


class PostableAlert(BaseModel):
    """An alert as Alertmanager's API v2 takes it."""

    model_config = ConfigDict(extra="forbid")

    labels: dict[LabelName, LabelValue] = Field(min_length=1, max_length=MAX_LABELS)
    annotations: dict[LabelName, Annotation] = Field(default_factory=dict, max_length=MAX_LABELS)
    starts_at: AwareDatetime | None = Field(
        default=None, alias="startsAt", description="When it began (default: now)."
    )
    ends_at: AwareDatetime | None = Field(
        default=None,
        alias="endsAt",
        description="When it ends: in the past, it is resolved; none, now + the resolve timeout.",
    )
    generator_url: str | None = Field(default=None, alias="generatorURL", max_length=2_000)

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _zero_is_unset(cls, value: datetime | None) -> datetime | None:
        return None if value is not None and value.year == 1 else value  # Go's zero time

    @field_validator("labels", "annotations", "generator_url")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        try:
            check_document(value)
        except Unstorable as error:
            raise ValueError(str(error)) from None
        return value


Alerts = Annotated[list[PostableAlert], Body(max_length=door.MAX_ALERTS)]


def _settled(alerts: list[PostableAlert]) -> list[door.Posted]:
    now = utcnow()
    settled = []
    for position, alert in enumerate(alerts):
        try:
            posted = door.settle(
                alert.labels, alert.annotations, alert.starts_at, alert.ends_at,
                alert.generator_url, now,
            )  # fmt: skip
        except ValueError as error:
            field = f"body.{position}.endsAt"
            detail = [{"field": field, "message": str(error)}]
            raise ApiProblem(422, "validation_error", f"{field}: {error}", detail) from None
        settled.append(posted)
    return settled


@router.post("/alerts", summary="Receive alerts", responses=error_responses(401, 403, 422, 503))
def post_alerts(body: Alerts, key: AlertSendKey) -> Response:
    """Keep each alert by its labels (a re-post refreshes it): an `endsAt` in the past resolves
    it, none means now plus `TASKYARD_ALERTS_RESOLVE_TIMEOUT_S`. Rules with the `alertmanager`
    source turn them into alerts; when there is none, the rule `alertmanager` is made (give it
    channels). Point a Prometheus server's `alerting:` section here. Needs `alerts:write`."""
    door.receive(_settled(body))
    return Response(status_code=200)
