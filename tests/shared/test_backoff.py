"""``shared.backoff.backoff_delay``: the one backoff every retry loop waits by."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.backoff import CAP_S, backoff_delay
from shared.sending.retry import RECORD_RETRY, RetryPolicy

SAMPLES = 2_000


def ceiling(attempt: int, first_s: float, cap_s: float) -> float:
    if attempt > 64:  # 0.001 * 2**63 is far past any cap; a float would overflow soon after
        return cap_s
    return min(cap_s, first_s * 2.0 ** (attempt - 1))


@given(
    attempt=st.integers(min_value=1, max_value=100_000),
    first_s=st.floats(min_value=0.001, max_value=10.0),
    cap_s=st.floats(min_value=0.001, max_value=600.0),
)
def test_every_delay_lies_in_the_upper_half_of_a_doubling_capped_ceiling(
    attempt: int, first_s: float, cap_s: float
) -> None:
    top = ceiling(attempt, first_s, cap_s)
    assert top / 2 <= backoff_delay(attempt, first_s=first_s, cap_s=cap_s) <= top


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.05, 0.1), (2, 0.1, 0.2), (3, 0.2, 0.4), (6, 1.6, 3.2), (7, 2.5, 5.0), (50, 2.5, 5.0)],
)
def test_the_defaults_start_at_a_tenth_of_a_second_and_stop_at_five(
    attempt: int, low: float, high: float
) -> None:
    delays = [backoff_delay(attempt) for _ in range(SAMPLES)]
    assert low <= min(delays)
    assert max(delays) <= high


def test_delays_are_spread_over_the_upper_half_so_processes_that_failed_together_part() -> None:
    delays = [backoff_delay(4) for _ in range(SAMPLES)]  # ceiling 0.8 s
    # All 2,000 draws inside the middle 80 % of [0.4, 0.8] would have odds of 0.8**2000.
    assert min(delays) < 0.44
    assert max(delays) > 0.76
    assert len(set(delays)) > SAMPLES // 2


def test_attempt_zero_or_below_counts_as_the_first() -> None:
    for attempt in (0, -3):
        assert 0.05 <= backoff_delay(attempt) <= 0.1


def test_a_huge_attempt_number_waits_the_cap_instead_of_overflowing() -> None:
    assert CAP_S / 2 <= backoff_delay(10**9) <= CAP_S


def test_the_senders_retry_policies_wait_by_it_with_their_own_numbers() -> None:
    policy = RetryPolicy()  # 0.5 s doubling, capped at 10 s
    assert 0.25 <= policy.backoff(1) <= 0.5
    assert 5.0 <= policy.backoff(6) <= 10.0
    assert 5.0 <= policy.backoff(60) <= 10.0
    assert 0.05 <= RECORD_RETRY.backoff(1) <= 0.1
    assert 0.5 <= RECORD_RETRY.backoff(9) <= 1.0
