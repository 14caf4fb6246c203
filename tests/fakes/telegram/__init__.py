"""The fake Telegram enforces Telegram's rules against real aiogram calls.

Every rule fires here through aiogram over HTTP, so a bot tested against
the fake meets the same errors it would meet in production. Time-based
limits run on a hand-moved clock (``telegram_clock``): no test sleeps.
"""

PRIVATE = 4242
GROUP = -100_500
