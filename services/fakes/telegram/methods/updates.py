"""Updates: long polling and the webhook's settings."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..errors import CONFLICT_WEBHOOK, ApiError, bad_request
from ..params import Params
from ..records import WebhookConfig
from ..wire import JSONDict
from .registry import bot_method

if TYPE_CHECKING:
    from ..fake import FakeTelegram

_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@bot_method("getUpdates")
async def get_updates(fake: FakeTelegram, params: Params) -> Any:
    if fake.webhook is not None:
        raise ApiError(409, CONFLICT_WEBHOOK)
    offset = params.integer("offset")
    limit = min(max(params.integer("limit") or 100, 1), 100)
    timeout = max(params.integer("timeout") or 0, 0)
    if params.has("allowed_updates"):
        fake.set_allowed_updates(params.json("allowed_updates"))
    if offset is not None:
        fake.confirm_updates(offset)
    return await fake.long_poll(limit, timeout)


@bot_method("setWebhook")
async def set_webhook(fake: FakeTelegram, params: Params) -> Any:
    url = params.string("url") or ""
    secret = params.string("secret_token")
    if secret is not None and not _SECRET_TOKEN.fullmatch(secret):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    if url and not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: Invalid URL specified")
    if params.has("allowed_updates"):
        fake.set_allowed_updates(params.json("allowed_updates"))
    if params.boolean("drop_pending_updates"):
        fake.drop_pending_updates()
    max_connections = params.integer("max_connections") or 40
    fake.set_webhook(WebhookConfig(url, secret, max_connections) if url else None)
    return True


@bot_method("deleteWebhook")
async def delete_webhook(fake: FakeTelegram, params: Params) -> Any:
    if params.boolean("drop_pending_updates"):
        fake.drop_pending_updates()
    fake.set_webhook(None)
    return True


@bot_method("getWebhookInfo")
async def get_webhook_info(fake: FakeTelegram, params: Params) -> Any:
    hook = fake.webhook
    info: JSONDict = {
        "url": hook.url if hook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(fake.pending_updates),
    }
    if hook is not None:
        info["max_connections"] = hook.max_connections
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
    if fake.allowed_updates is not None:
        info["allowed_updates"] = sorted(fake.allowed_updates)
    return info
