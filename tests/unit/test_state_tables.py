"""The one transition-table type every state machine uses: a small machine of its own shows
what it answers (the job, delivery and alert tables have their own tests)."""

from __future__ import annotations

from enum import StrEnum

import pytest

from tasks.alerts.states import TRANSITIONS as ALERT_TRANSITIONS
from tasks.alerts.states import AlertState
from tasks.notifications.states import DeliveryStatus
from workers.states import Actor, TableStates, Transition, TransitionTable
from workers.store.models import JobEvent, JobStatus


class Light(TableStates):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


class Flick(StrEnum):
    INSTALL = "install"
    SWITCH = "switch"
    BREAK = "break"


LIGHTS = TransitionTable(
    Light,
    (
        Transition(None, Light.OFF, Flick.INSTALL, Actor.OPERATOR),
        Transition(Light.OFF, Light.ON, Flick.SWITCH, Actor.OPERATOR),
        Transition(Light.ON, Light.OFF, Flick.SWITCH, Actor.OPERATOR),
        Transition(Light.ON, Light.BROKEN, Flick.BREAK, Actor.WORKER),
    ),
)


def test_the_table_answers_for_its_states() -> None:
    # Given the table above, when its states are asked, then the answers come from its rows.
    assert Light.sources(Flick.SWITCH) == {Light.OFF, Light.ON}
    assert Light.sources(Flick.SWITCH, Actor.WORKER) == set()
    assert Light.ON.may_become(Light.BROKEN, Actor.WORKER)
    assert not Light.ON.may_become(Light.BROKEN, Actor.OPERATOR)
    assert not Light.BROKEN.may_become(Light.ON, Actor.OPERATOR)
    assert LIGHTS.finished == {Light.BROKEN}
    assert LIGHTS.created == {Light.OFF}
    assert list(LIGHTS) == list(LIGHTS.rows)
    assert len(LIGHTS) == 4


def test_a_row_is_found_by_its_move_and_a_missing_one_is_an_error() -> None:
    assert LIGHTS.row(Light.OFF, Light.ON, Flick.SWITCH).actor is Actor.OPERATOR
    with pytest.raises(ValueError, match="no transition"):
        LIGHTS.row(Light.BROKEN, Light.ON, Flick.SWITCH)


def test_an_event_of_another_machine_is_refused_rather_than_matching_nothing() -> None:
    with pytest.raises(TypeError):
        Light.sources(JobEvent.CLAIM)
    with pytest.raises(TypeError):
        JobStatus.sources(Flick.SWITCH)


def test_each_machine_answers_from_its_own_table() -> None:
    assert DeliveryStatus.SENDING.may_become(DeliveryStatus.SENT, Actor.WORKER)
    assert not JobStatus.STARTED.may_become(JobStatus.QUEUED, Actor.WORKER)
    assert AlertState.PENDING.may_become(AlertState.FIRING, Actor.WORKER)
    assert ALERT_TRANSITIONS.finished == set()
