"""Sending to Telegram (text, and files): the one way every process does it (:mod:`.sender`).

A map of the package, in the order a message goes through it:

* :mod:`.pieces`: the text as Telegram messages (``Piece``, ``pieces()``, ``ReplyMarkup``);
* :mod:`.sender`: ``Sender``, the entry point: send, edit, preview, chat actions;
* :mod:`.media`: files and albums as parts of a keyed message (``Sender.send_calls``);
* :mod:`.chat_locks`: one message at a time per chat within a process;
* :mod:`.attempts`: one piece through the flood budget until Telegram answers for good;
* :mod:`.retry`: which answers are tried again, and how soon (``RetryPolicy``);
* :mod:`.sent_log`: at most once per key (``bot:sent:{key}``);
* :mod:`.results`: what became of a message (``SendResult``, ``Outcome``);
* :mod:`.live`: a reply streamed while it is written (``LiveReply``).

The design (budget, retries, the ambiguous case) is in ``docs/ARCHITECTURE.md``, "Sending".
"""
