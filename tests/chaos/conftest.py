"""Chaos tests run real processes with short reliability timers, so recovery fits in seconds."""

from __future__ import annotations

#: Heartbeats every 0.5 s, presumed lost after 3 s, Redis redelivery after 6 s, messages lost
#: in transit looked for after 3 s.
FAST_RECOVERY = {
    "TASKYARD_LOST_MESSAGE_AFTER_S": "3",
    "TASKYARD_HEARTBEAT_INTERVAL_S": "0.5",
    "TASKYARD_STALE_AFTER_S": "3",
    "TASKYARD_VISIBILITY_TIMEOUT_S": "6",
    "TASKYARD_DISPATCHER_INTERVAL_S": "0.2",
}
