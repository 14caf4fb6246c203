"""PO contract profiles (``PO_CONTRACT``): which streams and shapes the PO side speaks."""

from __future__ import annotations

from services.relay.contracts.base import POContract, POReply
from services.relay.contracts.seed import SEED, SeedContract
from services.relay.contracts.worker_streams import WorkerStreamsContract
from shared.texts import RU, Texts

__all__ = ["SEED", "POContract", "POReply", "SeedContract", "WorkerStreamsContract", "for_name"]


def for_name(name: str, texts: Texts = RU) -> POContract:
    """The profile the relay's ``PO_CONTRACT`` names (its settings refuse any other)."""
    if name == "seed":
        return SEED
    if name == "worker-streams":
        return WorkerStreamsContract(texts)
    raise ValueError(f"PO_CONTRACT: {name!r} is not supported yet")
