"""The relay: between the users' chat messages and their PO workers.

Flow: ``app`` (entry point, two loops) -> the incoming loop (a
``shared.streams.StreamConsumer`` on the ingress's stream) asks ``sessions``
for the user's worker, spawning one when needed, and writes the message to
the PO's input stream; ``replies`` reads the PO output streams and sends
each final reply to the user's chat.
"""
