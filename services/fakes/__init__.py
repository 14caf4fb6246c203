"""Offline stand-ins for the bot's neighbours, used by the tests and the sandbox.

Each replaces a neighbour only at its wire and behaves like the real thing,
errors and limits included: the Telegram Bot API (``telegram``), the
backend API (``api``), the worker-manager with its PO workers (``workers``),
and a real ``redis-server`` on a free port (``redis_server``).
"""
