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
sent per chat), ``recovery`` (a dead process's answers taken over). The
answer path, step by step: docs/ARCHITECTURE.md.

Decisions, each explained where it is made:

- auth cache in process, bounded; a stranger is told once per
  ``AUTH_CACHE_UNKNOWN_TTL_S``, all strangers at most
  ``AUTH_REJECTIONS_PER_S`` (``auth``, ``directory``);
- the API failing fails closed, with a "temporarily unavailable" reply (``auth``);
- auth speaks only in private chats: a stranger in a group is logged, never
  answered there; known users get the "private chats only" note (``auth``, ``groups``);
- unknown commands get the help text, never the PO (``commands``);
- a quick-action button is recognised by its exact label and runs its
  command; a message merely mentioning the word goes to the PO (``buttons``);
- the keyboard comes with /start and /help, and with the first chat message
  of a keyboard session: 24 h from the last time it was shown, kept in Redis
  (``bot:keyboard:{chat}``) so restarts and replicas agree (``keyboard_sessions``);
- long lists are paged (10 items, one message per page) and turned by
  editing the same message; callback data is versioned and validated, and
  every press refetches with the presser's own ``X-Telegram-ID``; anything
  unparseable or not the presser's is "expired" (``keyboards``, ``callbacks``);
- answers are stored with their update (``bot:answers``, same script as
  the messages) and go out in the background through the shared sender, at
  most ten waiting per chat, so a 429 or a chatty user never stalls updates
  and a crash loses none: each is sent at least once in storage terms, at
  most once as the user sees it (sender key ``answer:{id}``), in order per
  chat within a process, and taken over by another ingress within about
  ``INGRESS_ALIVE_TTL_S`` + ``ANSWERS_SCAN_S`` of a crash (``courier``);
- edits are not forwarded; the user is told so (``chat``);
- Redis failing: polling stalls and retries the batch, never confirming it;
  the webhook answers 503 (``polling``, ``intake``, ``webhook``);
- an update that fails in a handler (a bug) is logged and confirmed, not
  retried forever; a malformed one is logged once and skipped; a webhook
  body that is not an update gets 200 (``updates``, ``webhook``);
- 409 Conflict ends a polling ingress (exit 3); it never deletes a
  webhook (``polling``).
"""
