"""A fake of the platform's backend API, served over real HTTP on 127.0.0.1.

It answers what CONTRACTS.md lists, shaped like the deployed API (:mod:`.data`,
:mod:`.routes`). Data is plain JSON objects a test (or the sandbox) adds::

    async with FakeApi() as api:
        seed_demo(api)                       # or api.add_user(...), api.add_project(...)
        client = ApiClient(api.url, None)
        ...
        request = await api.wait_for_request("/api/users/")

Switches (:mod:`.switches`: ``down``, ``slow``, ``fail_with``, canned answers...)
are read on every request, so a test can flip them at any time. Every request
is recorded (``requests``), even those answered by a reset;
``wait_for``/``wait_for_request`` await them without sleeping.
"""

from .data import ApiData
from .fake import FakeApi
from .records import JSON, CannedResponse, RecordedRequest
from .routes import COLLECTIONS, Handler
from .seed import DemoSeed, seed_demo
from .switches import Switches

__all__ = [
    "COLLECTIONS",
    "JSON",
    "ApiData",
    "CannedResponse",
    "DemoSeed",
    "FakeApi",
    "Handler",
    "RecordedRequest",
    "Switches",
    "seed_demo",
]
