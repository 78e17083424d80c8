"""A job's own request to be retried later is bounded where it is made, so a huge, negative
or non-finite delay fails the job with a clear error instead of overflowing the retry time."""

from __future__ import annotations

import pytest

from workers.jobcontext import MAX_RETRY_AFTER_S, RetryAfter


@pytest.mark.parametrize("delay_s", [float("nan"), float("inf"), 1e20, -1, MAX_RETRY_AFTER_S + 1])
def test_a_delay_outside_a_year_is_refused(delay_s: float) -> None:
    with pytest.raises(ValueError, match="RetryAfter takes 0 to 31536000 seconds"):
        RetryAfter(delay_s)


@pytest.mark.parametrize("delay_s", [0, 0.25, MAX_RETRY_AFTER_S])
def test_a_delay_within_a_year_is_kept(delay_s: float) -> None:
    assert RetryAfter(delay_s, "wait").delay_s == delay_s
