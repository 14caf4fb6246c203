"""Telegram's flood budget, shared by every process that sends with the bot's token.

Telegram counts every message a bot sends, whichever process sent it: about
one per second per chat (with a small burst), 20 per minute per group, about
30 per second in all, and bans bots that keep going over. So the budget
lives in Redis, and every request that counts (``sendMessage``,
``editMessageText``, ``sendMessageDraft``) first takes a ticket from it::

    ticket = await limiter.acquire(chat_id)  # may wait: that wait is the rate limit
    try:
        await bot.send_message(chat_id, ...)
    finally:
        await limiter.release(ticket)

A 429 seen by any process pauses the chat (or every chat) for all of them
(:meth:`FloodLimiter.report_retry_after`). Nothing is held beyond a TTL, so
a process killed at any point leaks nothing for long. The design (reserve,
gate, release; margins; which 429 was it; previews) is in
docs/ARCHITECTURE.md, "Flood budget".
"""

from shared.ratelimit.budget import FloodBudget, ScriptBudget, is_group
from shared.ratelimit.limiter import (
    MIN_SLEEP_S,
    PREFIX,
    Done,
    FloodLimiter,
    PauseScope,
    Record,
    Ticket,
)

__all__ = [
    "MIN_SLEEP_S",
    "PREFIX",
    "Done",
    "FloodBudget",
    "FloodLimiter",
    "PauseScope",
    "Record",
    "ScriptBudget",
    "Ticket",
    "is_group",
]
