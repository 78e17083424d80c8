"""The job type that carries a delivery through the queues. Data only: the job registry
(``tasks/jobs/catalog.py``) lists it, the worker loads its implementation from
``tasks/notifications/tasks.py``."""

from __future__ import annotations

from pydantic import Field

from workers.jobtypes import JobType, Payload

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class DeliverPayload(Payload):
    """``notify.deliver``: the delivery to send."""

    delivery_id: str = Field(pattern=_UUID)


NOTIFY_DELIVER = JobType(
    "notify.deliver",
    DeliverPayload,
    "Sends one delivery of a notification, claimed in the store first (internal).",
    time_limit_s=120,
    soft_time_limit_s=100,
    internal="send notifications with POST /v1/notifications or `taskyard notifications send`",
    # The delivery's claim, committed durably before the send, fences it (and flushes the
    # start with it): see tasks/notifications/deliveries.py.
    durable_start=False,
)
