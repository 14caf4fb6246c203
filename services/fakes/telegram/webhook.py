"""Webhook delivery: pending updates pushed to the bot one at a time, retried until 2xx."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import aiohttp
import msgspec

from .params import Params
from .records import WebhookConfig, WebhookDelivery
from .server import execute
from .wire import JSONDict, decode, encode

if TYPE_CHECKING:
    from .fake import FakeTelegram


async def deliver_webhooks(fake: FakeTelegram, http: aiohttp.ClientSession) -> None:
    """Push updates while a webhook is set, until the fake stops (run as a task)."""
    delay = fake.webhook_retry_delay
    while not fake.stopping:
        hook = fake.webhook
        if hook is None or not fake.pending_updates:
            await fake.wait_change(None)
            continue
        update = fake.pending_updates[0]
        if await _push(fake, http, hook, update):
            fake.pending_updates = [u for u in fake.pending_updates if u is not update]
            fake.notify()
            delay = fake.webhook_retry_delay
        else:
            # Telegram retries with growing pauses until it gets a 2xx.
            await fake.sleep(delay)
            delay = min(delay * 2, fake.webhook_retry_max_delay)


async def _push(
    fake: FakeTelegram, http: aiohttp.ClientSession, hook: WebhookConfig, update: JSONDict
) -> bool:
    headers = {"Content-Type": "application/json"}
    if hook.secret_token:
        headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
    status: int | None = None
    error: str | None = None
    reply: JSONDict | None = None
    try:
        async with http.post(
            hook.url,
            data=encode(update),
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=fake.webhook_timeout),
        ) as resp:
            status = resp.status
            if 200 <= status < 300:
                reply = await _read_webhook_reply(resp)
            else:
                error = f"Wrong response from the webhook: {status} {resp.reason}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        error = f"Connection failed: {type(exc).__name__}: {exc}"
    fake.webhook_deliveries.append(
        WebhookDelivery(update["update_id"], hook.url, fake.clock(), status, error)
    )
    if error is not None:
        hook.last_error_date, hook.last_error_message = int(time.time()), error
    fake.notify()
    if reply is not None:
        # Telegram runs a method given in the webhook's answer body.
        await execute(fake, str(reply.pop("method")), Params(reply), source="webhook-reply")
    return error is None


async def _read_webhook_reply(resp: aiohttp.ClientResponse) -> JSONDict | None:
    """A method call in a webhook answer (JSON or aiogram's multipart), if any."""
    if resp.content_type == "application/json":
        with contextlib.suppress(msgspec.DecodeError):
            body = decode(await resp.read())
            if isinstance(body, dict) and isinstance(body.get("method"), str):
                return body
    elif resp.content_type == "multipart/form-data":
        reply: JSONDict = {}
        reader = aiohttp.MultipartReader.from_response(resp)
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name:
                reply[part.name] = await part.text()
        return reply if "method" in reply else None
    return None
