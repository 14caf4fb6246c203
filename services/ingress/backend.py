"""The backend API as the ingress uses it: ``shared.api.ApiClient`` plus one project by id.

A project's details come from ``GET /api/projects/{id}``, which the API
scopes by ``X-Telegram-ID`` (its owner and admins see it, others get 403).
An id from a button can be forged, and an API that forgot the owner check
would then show anyone's project; so the answer is shown only if the
presser's own list (which the API scopes too) holds that id. The list is
also the fallback when the API has no such route (404 or 405): a 404 may
equally mean "no such project", and then the list does not hold it either.
Any other answer from the route (a 422, a body that is not that project) is
an ``ApiBadResponse``: a broken route is reported, not papered over.

It lives here rather than in ``shared.api`` only because this is the one
process that needs it; it uses ``ApiClient``'s own request path (redirects,
timeouts, errors) unchanged.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import msgspec

from shared.api import ApiBadResponse, ApiClient
from shared.log import get_logger
from shared.schemas import Project

log = get_logger(__name__)

_project_decoder = msgspec.json.Decoder(Project, strict=False)
_NO_SUCH_ROUTE: Final = (404, 405)
_LOGGED_PATH: Final = "/api/projects/{id}"
"""The route as logs name it: a project id is not for the logs."""


class IngressApi(ApiClient):
    async def project(self, telegram_id: int, project_id: str) -> Project | None:
        """The project ``project_id`` as ``telegram_id`` sees it, or None if they cannot.

        ``ApiUnavailable``, ``ApiForbidden`` and ``ApiBadResponse`` propagate.
        """
        path = f"/api/projects/{quote(project_id, safe='')}"
        status, body = await self._get(path, {}, telegram_id, allowed=_NO_SUCH_ROUTE)
        if status in _NO_SUCH_ROUTE:
            listed = await self._listed(telegram_id, project_id)
            log.info("api_project_from_list", status=status, listed=listed is not None)
            return listed
        project = _decode_project(body, project_id)
        if await self._listed(telegram_id, project_id) is None:
            # The route showed what the presser's own list does not hold.
            log.warning("api_project_not_listed", path=_LOGGED_PATH)
            return None
        return project

    async def _listed(self, telegram_id: int, project_id: str) -> Project | None:
        projects = await self.list_projects(telegram_id)
        return next((p for p in projects if str(p.id) == project_id), None)


def _decode_project(body: bytes, project_id: str) -> Project:
    try:
        project = _project_decoder.decode(body)
    except msgspec.DecodeError as exc:
        log.warning("api_bad_body", path=_LOGGED_PATH, error=str(exc))
        raise ApiBadResponse(f"GET {_LOGGED_PATH}: not a project") from None
    if str(project.id) != project_id:
        log.warning("api_project_mismatch", path=_LOGGED_PATH)
        raise ApiBadResponse(f"GET {_LOGGED_PATH}: another project answered")
    return project
