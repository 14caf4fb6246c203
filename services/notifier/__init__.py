"""The notifier: every server provisioning result, told to every admin.

Flow: ``app`` (entry point) runs a ``shared.streams.StreamConsumer`` on
``provisioner:results`` with the group ``telegram-bot``; ``admins`` says who
to tell; ``messages`` words each result; ``claims`` keeps the results in hand
from other replicas; ``consumers`` removes the group's dead consumers.
"""
