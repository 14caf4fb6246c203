"""Provisioning results to publish from the page, as the provisioner would (CONTRACTS.md)."""

from __future__ import annotations

import itertools
import random
from typing import Literal

import redis.asyncio as aioredis

from shared import keys
from shared.connections import text
from shared.schemas import ProvisionerResult, encode_entry, new_id

Outcome = Literal["success", "failed"]

_serial = itertools.count(1)


def example_result(outcome: Outcome) -> ProvisionerResult:
    """A believable result for a new server ``srv-demo-N``."""
    handle = f"srv-demo-{next(_serial)}"
    if outcome == "success":
        return ProvisionerResult(
            request_id=new_id(),
            server_handle=handle,
            status="success",
            server_ip=f"203.0.113.{random.randint(2, 254)}",
            services_redeployed=3,
            duration_ms=random.randint(40_000, 180_000),
        )
    return ProvisionerResult(
        request_id=new_id(),
        server_handle=handle,
        status="failed",
        error="Ansible playbook failed on 2 tasks",
        duration_ms=random.randint(20_000, 90_000),
        errors=["docker: install failed (apt lock held)", "ufw: rule 443/tcp not applied"],
    )


async def publish(redis: aioredis.Redis, result: ProvisionerResult) -> str:
    """XADD to ``provisioner:results``, exactly as the provisioner writes it; the entry id."""
    entry_id = await redis.xadd(keys.PROVISIONER_RESULTS, encode_entry(result))  # type: ignore[arg-type]
    return text(entry_id)
