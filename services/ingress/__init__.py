"""The ingress: the only process that receives Telegram updates.

Flow::

    polling (Poller)  ─┐                          ┌─ chat      text -> IntakeBatch
                       │                          ├─ commands  /projects... from the API
                       ├─ UpdateProcessor ─ auth ─┼─ buttons   "📁 Проекты" = /projects
    webhook (aiohttp) ─┘   (one update at a time) ├─ callbacks ◀ / ▶, project details
                                                  └─ groups    "private chats only"
                                 │        (answers: outbox.say -> the same IntakeBatch)
                                 │
     Intake.store(batch): Lua, dedupe + XADD bot:incoming:{p} + XADD bot:answers
                                 │ returns the answers it stored
         only then: offset moved (polling) / 200 answered (webhook),
         and the stored answers handed to courier.Courier, sent in the background,
         each XDELed once sent; a dead ingress's answers taken over by another

Modules: ``app`` (wiring, ``serve``), ``polling``, ``webhook``, ``updates``
(raw JSON to handled updates), ``auth`` + ``directory`` (whitelist, cache),
``commands``, ``buttons``, ``callbacks``, ``chat``, ``groups`` (routers),
``filters``, ``formatting`` (quick-command HTML, pages), ``lists`` (the
three lists: fetch, draw, page), ``keyboards`` (reply keyboard, callback
data), ``keyboard_sessions`` (when the keyboard is shown), ``backend`` (the
API client plus one project by id), ``batch`` (what handling produced, to
be stored), ``intake`` (Redis), ``outbox`` (what handlers answer through:
stored with the update), ``courier`` (the one send seam: stored answers
sent per chat), ``recovery`` (a dead process's answers taken over), ``ordering`` (webhook
replicas store one user's updates in order). The
answer path, step by step: docs/ARCHITECTURE.md.
The decisions behind each module: docs/ARCHITECTURE.md, "Ingress handlers".
"""
