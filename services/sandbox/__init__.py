"""The offline sandbox: ``telegram-bot sandbox`` runs the whole bot on one machine.

``app`` (entry point, start and stop order) -> ``embedded_redis`` and
``supervisor`` (child processes, started by ``children``) -> ``world`` (the
people and the seeded API) -> ``page`` (the web chat page, ``static/``) and
``provisioning`` (the results the page publishes). Settings: ``settings``.
"""
