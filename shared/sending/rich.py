"""A reply as one rich message (``sendRichMessage``), when ``RICH_MESSAGES`` is on.

:class:`RichPath` tries the rich form of a Markdown reply
(:func:`shared.formatting.rich.rich_message`) as one keyed part; the sender
sends the HTML form instead when this answers None: the setting is off, the
reply has no rich form (nothing visible, or too long for one message), or
Telegram refused it with a 4xx other than 403 (a method it does not know, a
block it does not take). After a refusal, this process sends HTML only for
:data:`REFUSAL_PAUSE_S`, so a server that never takes rich messages costs one
refused request per pause, not one per reply. A rich message delivered is
recorded under ``<key>:rich``, so a retried reply is not sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Final

from shared.formatting.rich import plain_text, rich_message
from shared.log import get_logger
from shared.sending.attempts import PartCall
from shared.sending.pieces import Piece, ReplyMarkup
from shared.sending.results import Outcome, SendResult
from shared.telegram import TelegramClient

log = get_logger(__name__)

METHOD: Final = "sendRichMessage"
#: How long a process sends HTML only after Telegram refused a rich message.
REFUSAL_PAUSE_S: Final = 600.0

SendCalls = Callable[[int, Sequence[PartCall], str | None], Awaitable[SendResult]]


class RichPath:
    """Sends replies as rich messages while Telegram takes them; see the module docstring."""

    def __init__(
        self, client: TelegramClient, enabled: bool, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.client = client
        self.enabled = enabled
        self._clock = clock
        self._refused_until = 0.0

    @property
    def active(self) -> bool:
        return self.enabled and self._clock() >= self._refused_until

    async def send(
        self,
        chat_id: int,
        text: str,
        send_calls: SendCalls,
        *,
        key: str | None,
        reply_markup: ReplyMarkup | None,
    ) -> SendResult | None:
        """The result of sending ``text`` as a rich message; None: send the HTML form."""
        if not self.active:
            return None
        rich = rich_message(text)
        if rich is None:
            return None
        piece = Piece.plain_text(plain_text(rich["blocks"]))  # for the DEBUG log line only

        async def call(_: Piece) -> int:
            params = {"chat_id": chat_id, "rich_message": rich, "reply_markup": reply_markup}
            message = await self.client.call(METHOD, params)
            return int(message["message_id"])

        rich_key = None if key is None else f"{key}:rich"
        result = await send_calls(chat_id, [PartCall(piece, call, METHOD)], rich_key)
        if not _refused(result):
            return result
        self._refused_until = self._clock() + REFUSAL_PAUSE_S
        log.warning(
            "rich_message_refused",
            chat_id=chat_id,
            error=result.error,
            error_code=result.error_code,
            pause_s=REFUSAL_PAUSE_S,
        )
        return None


def _refused(result: SendResult) -> bool:
    """Telegram refused the request as such: a 4xx that is not a 403 (blocked) or a 429."""
    code = result.error_code
    return (
        result.outcome is Outcome.FAILED
        and not result.transient
        and code is not None
        and 400 <= code < 500
        and code not in (403, 429)
    )
