"""A fake worker-manager and its PO workers, over a real Redis.

It plays the other side of the streams in CONTRACTS.md: it consumes
``worker:commands`` (:mod:`.commands`), writes ``worker:status:{worker_id}``
(:mod:`.status`) and answers on ``worker:responses:po``; each RUNNING worker is
a PO that answers ``worker:po:{user_id}:input`` on ``...:output`` under the same
``request_id`` (:mod:`.po`). Per user, a ``WorkerScript`` says how the start
ends, how long it takes, and how the PO replies::

    async with FakeWorkerManager(redis_url) as wm:
        wm.script(7, outcome="FAILED")
        wm.default_script.chunks = 3
        ...
        await wm.wait_for(lambda: len(wm.commands) == 1)

Like the real one, a PO answers only while its status is ``RUNNING``: input
written earlier waits in the stream and is answered once it is; a worker a
test sets to ``STOPPED`` (here or straight in Redis) stops answering, and what
it had not answered is answered by the next worker started for that user.

``FakeWorkerManager(url, profile="worker-streams")`` speaks the deployed worker
wrapper's streams and shapes instead (:mod:`.wire`; CONTRACTS.md).
:mod:`.personas` holds scripts a person can watch: a PO that streams slowly, and
one that writes again on its own a minute later.
"""

from .manager import FakeWorkerManager
from .personas import PERSONAS, Persona
from .records import RejectedEntry, SentOutput
from .script import Outcome, ReplyFunction, TextField, WorkerScript, echo
from .status import WAKE_STREAM
from .wire import MISSING_PROMPT, Profile, WrapperOutput

__all__ = [
    "MISSING_PROMPT",
    "PERSONAS",
    "WAKE_STREAM",
    "FakeWorkerManager",
    "Outcome",
    "Persona",
    "Profile",
    "RejectedEntry",
    "ReplyFunction",
    "SentOutput",
    "TextField",
    "WorkerScript",
    "WrapperOutput",
    "echo",
]
