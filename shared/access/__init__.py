"""Access requests (issue 17): a stranger asks once, an admin approves with one tap.

The ingress creates and decides requests (strangers' presses, admins'
presses); the notifier sends the admins' cards (at most
``ACCESS_REQUESTS_PER_HOUR``), carries every outcome to the stranger and the
cards, and expires requests. Everything they share lives here: the keys,
the request record and the outcome entry. Design: ``docs/ARCHITECTURE.md``,
"Access requests".
"""
