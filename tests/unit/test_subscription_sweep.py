"""The sweep's window and how it takes failures, without a store: a window overlaps the last
by two minutes but never reaches back before the subscription's last edit; a subscription
that cannot send stalls alone, while an unavailable store fails the whole run."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tasks.notifications import subscription_sweep
from tasks.notifications.errors import InvalidNotification
from tasks.notifications.subscription_sweep import OVERLAP, sweep, window_start
from workers.errors import StoreUnavailable
from workers.store.models import Subscription

EDITED = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def _subscription(name: str, scanned_until: datetime | None) -> Subscription:
    return Subscription(id=uuid.uuid4(), name=name, event="job.dead", match="*",
                        channels=["ops"], enabled=True, scanned_until=scanned_until,
                        created_at=EDITED, updated_at=EDITED)  # fmt: skip


@pytest.mark.parametrize(
    ("scanned_until", "start"),
    [
        (None, EDITED),  # new: from its creation (or last edit)
        (EDITED + timedelta(minutes=1), EDITED),  # the overlap stops at the edit
        (EDITED + timedelta(hours=1), EDITED + timedelta(hours=1) - OVERLAP),
    ],
)
def test_a_window_overlaps_the_last_but_not_past_the_last_edit(
    scanned_until: datetime | None, start: datetime
) -> None:
    assert window_start(_subscription("s", scanned_until)) == start


def test_a_subscription_that_cannot_send_stalls_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[str] = []

    def sweep_one(subscription: Subscription, *args: object) -> None:
        if subscription.name == "broken":
            raise InvalidNotification("channels: no channel named 'gone'")
        served.append(subscription.name)

    subscriptions = [_subscription(n, None) for n in ("broken", "fine")]
    monkeypatch.setattr(subscription_sweep, "enabled_subscriptions", lambda: subscriptions)
    monkeypatch.setattr(subscription_sweep, "sweep_one", sweep_one)

    swept = sweep()

    assert swept.stalled == {"broken": "channels: no channel named 'gone'"}
    assert served == ["fine"]


def test_an_unavailable_store_fails_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def sweep_one(*args: object) -> None:
        raise StoreUnavailable("the job store is unreachable")

    monkeypatch.setattr(subscription_sweep, "enabled_subscriptions",
                        lambda: [_subscription("s", None)])  # fmt: skip
    monkeypatch.setattr(subscription_sweep, "sweep_one", sweep_one)

    with pytest.raises(StoreUnavailable):
        sweep()
