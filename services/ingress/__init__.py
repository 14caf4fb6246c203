"""The ingress: the only process that receives Telegram updates.

Flow: ``app`` (entry point: polling, dispatcher) -> ``auth`` (middleware:
every update's sender checked against the API first) -> ``chat`` (router:
a known user's text goes to ``intake``, the Redis stream the relays read).
"""
