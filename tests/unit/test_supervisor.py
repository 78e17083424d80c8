"""The dev supervisor's pure parts: the restart back-off and how an exit is described."""

from __future__ import annotations

import pytest

from cli.supervisor import Backoff, describe_exit


def test_restarts_wait_one_second_doubling_to_thirty() -> None:
    backoff = Backoff()

    delays = [backoff.delay(ran_for=0.5) for _ in range(8)]

    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_process_that_ran_a_while_starts_again_from_one_second() -> None:
    # Given a process that crashed quickly three times
    backoff = Backoff()
    assert [backoff.delay(ran_for=1) for _ in range(3)] == [1, 2, 4]

    # When it then ran for the reset period before exiting
    delay = backoff.delay(ran_for=60)

    # Then the wait is back to the first step, and doubles again from there
    assert delay == 1
    assert backoff.delay(ran_for=5) == 2


def test_the_steps_are_configurable() -> None:
    backoff = Backoff(initial=0.2, cap=0.5, reset_after=3)

    assert [backoff.delay(ran_for=0) for _ in range(4)] == [0.2, 0.4, 0.5, 0.5]
    assert backoff.delay(ran_for=3) == 0.2


@pytest.mark.parametrize(
    ("code", "said"),
    [(0, "code 0"), (1, "code 1"), (137, "code 137 (SIGKILL)"), (143, "code 143 (SIGTERM)"),
     (-9, "signal SIGKILL"), (-15, "signal SIGTERM"), (255, "code 255")],
)  # fmt: skip
def test_an_exit_is_described_with_the_signal_behind_it(code: int, said: str) -> None:
    assert describe_exit(code) == said
