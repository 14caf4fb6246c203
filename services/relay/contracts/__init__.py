"""PO contract profiles (``PO_CONTRACT``): which streams and shapes the PO side speaks."""

from __future__ import annotations

from services.relay.contracts.base import ControlContract, POContract, POReply
from services.relay.contracts.po_service import PO_SERVICE, PoServiceContract
from services.relay.contracts.seed import SEED, SeedContract
from services.relay.contracts.worker_streams import WorkerStreamsContract
from shared.texts import RU, Texts

__all__ = [
    "PO_SERVICE",
    "SEED",
    "ControlContract",
    "POContract",
    "POReply",
    "PoServiceContract",
    "SeedContract",
    "WorkerStreamsContract",
    "for_name",
]


def for_name(name: str, texts: Texts = RU) -> POContract | PoServiceContract:
    """The profile the relay's ``PO_CONTRACT`` names (its settings refuse any other).

    ``seed`` and ``worker-streams`` speak per-user streams (a :class:`POContract`);
    ``po-service`` speaks requests and answers, served by components of its own.
    """
    if name == "seed":
        return SEED
    if name == "worker-streams":
        return WorkerStreamsContract(texts)
    if name == "po-service":
        return PO_SERVICE
    raise ValueError(f"PO_CONTRACT: {name!r} is not supported")
