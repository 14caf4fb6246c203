"""A faithful fake of the Telegram Bot API, served over real HTTP.

Real aiogram talks to it exactly as it talks to Telegram::

    async with FakeTelegram() as fake:
        bot = Bot(fake.token, session=AiohttpSession(api=TelegramAPIServer.from_base(fake.url)))
        fake.inject_message(42, "/start")           # a user writes to the bot
        await bot.send_message(42, "<b>hi</b>", parse_mode="HTML")
        [msg] = await fake.wait_for_messages(42, 1)  # what the user sees
        assert msg["text"] == "hi"

It enforces what Telegram enforces, because a fake kinder than Telegram hides
bugs: text length in UTF-16 code units after entity parsing, HTML and
MarkdownV2 parsing with Telegram's error messages (ports of tdlib's parsers),
flood limits with 429 ``retry_after`` and the penalty that follows, blocked
users, one poller per token, webhook delivery retried until 2xx, the bot's
reactions (Telegram's emoji list, one per message), command menus per scope
and language. Users press inline buttons (:meth:`FakeTelegram.press_button`)
and the stop button of a ``can_stop`` draft (:meth:`FakeTelegram.stop_draft`,
a ``stopped_message_generation`` update). Tests can
also script failures (429, 5xx, slow answers, dropped connections) and wait
for events instead of sleeping (:meth:`FakeTelegram.wait_for`). A new Bot API
method is one decorated function in :mod:`.methods`. Deliberate deviations
from Telegram are listed in ``DEVIATIONS``.
"""

from .cli import main
from .entities import FormattedText, check_entities, utf16_len
from .errors import ApiError
from .failures import Failure
from .fake import DEFAULT_TOKEN, FakeTelegram
from .flood import FloodControl, FloodLimits, ManualClock
from .formatting import format_message_text
from .html import parse_html
from .markdown import parse_markdown, parse_markdown_v2
from .methods import MethodSpec, bot_method
from .methods.reactions import REACTION_EMOJI
from .methods.updates import get_updates
from .params import Params
from .records import (
    Call,
    CallbackPress,
    ChatAction,
    ChatState,
    Draft,
    Reaction,
    WebhookConfig,
    WebhookDelivery,
)

__all__ = [
    "DEFAULT_TOKEN",
    "DEVIATIONS",
    "REACTION_EMOJI",
    "ApiError",
    "Call",
    "CallbackPress",
    "ChatAction",
    "ChatState",
    "Draft",
    "Failure",
    "FakeTelegram",
    "FloodControl",
    "FloodLimits",
    "FormattedText",
    "ManualClock",
    "MethodSpec",
    "Params",
    "Reaction",
    "WebhookConfig",
    "WebhookDelivery",
    "bot_method",
    "check_entities",
    "format_message_text",
    "get_updates",
    "main",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
]

#: Where this fake knowingly differs from Telegram, and why.
DEVIATIONS = (
    "strict_html (default on): `<a>` without href and unknown named entities such as "
    "`&nbsp;` are rejected; Telegram uses the link text as URL and keeps `&nbsp;` literally.",
    "Text length is counted in UTF-16 code units (the unit of entity offsets).",
    "Webhook URLs may be plain http on any port; Telegram wants https on 443/80/88/8443.",
    "Webhook updates are pushed one at a time even if max_connections > 1.",
    "Automatic entities (urls, mentions, hashtags) are not detected in bot messages.",
    "Error texts for drafts, entity bounds, bad parameter types and webhook secrets are "
    "plausible guesses in Telegram's shape, not captured ones.",
    "Flood limits are a model (token bucket per chat, sliding windows per group and per bot); "
    "Telegram's real algorithm is unpublished.",
    "Every non-zero integer chat id exists; '@username' chat ids are 'chat not found'.",
    "MarkdownV2 blockquotes ('>', '**>', '||') are parsed in a simplified way.",
    "Reactions: no chat allows custom emoji; REACTION_EMPTY for removing a reaction the bot "
    "never set was observed on Telegram by a third party, not captured by us; a refused "
    "reaction still spends a send.",
    "Drafts sent after their user stopped one are shown (Telegram does not document it); a "
    "bot that keeps streaming after a stop is seen doing so.",
)
