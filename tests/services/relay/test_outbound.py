"""The relay's seam to Telegram: what a sender's result means for the reply's position."""

from __future__ import annotations

import pytest

from services.relay.outbound import Delivery, delivery_of, draft_id_for
from shared.sending.results import Outcome, SendResult


@pytest.mark.parametrize(
    ("result", "delivery"),
    [
        (SendResult(outcome=Outcome.DELIVERED, message_ids=(1,)), Delivery.DELIVERED),
        (
            SendResult(outcome=Outcome.BLOCKED, error="Forbidden: bot was blocked by the user"),
            Delivery.GAVE_UP,
        ),
        (
            SendResult(outcome=Outcome.FAILED, error="ServerError: Bad Gateway", transient=True),
            Delivery.RETRY,
        ),
        (
            SendResult(outcome=Outcome.FAILED, error="NetworkError: timed out", transient=True),
            Delivery.RETRY,
        ),
        (
            SendResult(outcome=Outcome.FAILED, error="DecodeError: HTTP 502", transient=True),
            Delivery.RETRY,
        ),
        (
            SendResult(outcome=Outcome.FAILED, error="BadRequest: chat not found"),
            Delivery.GAVE_UP,
        ),
        (SendResult(outcome=Outcome.FAILED, error="empty text"), Delivery.GAVE_UP),
    ],
)
def test_telegram_away_keeps_the_reply_for_later_and_a_refusal_moves_on(
    result: SendResult, delivery: Delivery
) -> None:
    assert delivery_of(result) is delivery


def test_a_replys_draft_id_is_stable_non_zero_and_fits_31_bits() -> None:
    ids = {draft_id_for(f"1795474841730-{n}") for n in range(1000)}
    assert draft_id_for("1795474841730-0") == draft_id_for("1795474841730-0")
    assert 0 not in ids
    assert max(ids) < 2**31
    assert len(ids) > 990
