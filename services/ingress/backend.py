"""The backend API as the ingress uses it: ``shared.api.ApiClient`` plus one project by id.

``GET /api/projects/{id}`` is not among the calls CONTRACTS.md fixes, and
nothing there says the API scopes it by ``X-Telegram-ID``. An id from a
button can be forged, so :meth:`IngressApi.project` first finds the id in
the presser's own list (which the API does scope): a project its presser
cannot list is never shown, whatever the detail route would answer. Only
then does it ask ``GET /api/projects/{id}`` for the fuller record, and
falls back to the list's entry when that gives no usable answer (404, as an
API without the route says; any other unexpected status or body).

It lives here rather than in ``shared.api`` only because this is the one
process that needs it; it uses ``ApiClient``'s own request path (redirects,
timeouts, errors) unchanged.
"""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from shared.api import ApiBadResponse, ApiClient
from shared.log import get_logger
from shared.schemas import Project

log = get_logger(__name__)

_project_decoder = msgspec.json.Decoder(Project, strict=False)


class IngressApi(ApiClient):
    async def project(self, telegram_id: int, project_id: str) -> Project | None:
        """The project ``project_id`` as ``telegram_id`` sees it, or None if they cannot.

        ``ApiUnavailable`` and ``ApiForbidden`` propagate (the API is down, or says no).
        """
        projects = await self.list_projects(telegram_id)
        listed = next((p for p in projects if str(p.id) == project_id), None)
        if listed is None:
            return None
        path = f"/api/projects/{quote(project_id, safe='')}"
        try:
            status, body = await self._get(path, {}, telegram_id, allowed=(404,))
        except ApiBadResponse:
            return listed
        if not 200 <= status < 300:
            return listed
        try:
            project = _project_decoder.decode(body)
        except msgspec.DecodeError as exc:
            log.warning("api_bad_body", path="/api/projects/{id}", error=str(exc))
            return listed
        if str(project.id) != project_id:
            log.warning("api_project_mismatch", path="/api/projects/{id}")
            return listed
        return project
