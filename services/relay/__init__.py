"""The relay: between the users' chat messages and their PO workers.

Any number of relays share the work by leasing partitions of the users
(``shared.keys.PARTITIONS``); see ``services.relay.app`` for the wiring and
``docs/ARCHITECTURE.md`` for the design.
"""
