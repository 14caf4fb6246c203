"""The ingress: the only process that receives Telegram updates.

Flow::

    polling (Poller)  ─┐                          ┌─ chat      text -> IntakeBatch
                       ├─ UpdateProcessor ─ auth ─┼─ commands  /projects... from the API
    webhook (aiohttp) ─┘   (one update at a time) └─ groups    "private chats only"
                                 │
                 Intake.store(batch): Lua, dedupe + XADD bot:incoming:{p}
                                 │
         only then: offset moved (polling) / 200 answered (webhook)

Modules: ``app`` (wiring, ``serve``), ``polling``, ``webhook``, ``updates``
(raw JSON to handled updates), ``auth`` + ``directory`` (whitelist, cache),
``commands``, ``chat``, ``groups`` (routers), ``filters``, ``formatting``
(quick-command HTML), ``intake`` (Redis), ``outbox`` (the one send seam).

Decisions, each explained where it is made:

- auth cache in process, bounded; a stranger is told once per
  ``AUTH_CACHE_UNKNOWN_TTL_S``, all strangers at most
  ``AUTH_REJECTIONS_PER_S`` (``auth``, ``directory``);
- the API failing fails closed, with a "temporarily unavailable" reply (``auth``);
- unknown commands get the help text, never the PO (``commands``);
- answers go out in the background through the shared sender, at most
  ten waiting per chat, so a 429 or a chatty user never stalls updates (``outbox``);
- edits are not forwarded; the user is told so (``chat``);
- Redis failing: polling stalls and retries the batch, never confirming it;
  the webhook answers 503 (``polling``, ``intake``, ``webhook``);
- an update that fails in a handler (a bug) is logged and confirmed, not
  retried forever; a malformed one is logged once and skipped; a webhook
  body that is not an update gets 200 (``updates``, ``webhook``);
- 409 Conflict ends a polling ingress (exit 3); it never deletes a
  webhook (``polling``).
"""
