"""The ``files`` process: streams a user's file to the PO that holds a signed link to it.

Stateless: each request is checked on its own (``shared.file_links``) and
streamed from the Bot API, so any number of replicas can serve. See
``docs/ARCHITECTURE.md``, "Files process".
"""
