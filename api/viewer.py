"""Who is looking at the dashboard: a tenant's API key (that tenant's jobs only) or the operator's
``SHOTLINE_API_METRICS_TOKEN`` (every tenant, as on ``/metrics``)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials

from api.deps import StateDep, _bearer, get_tenant
from foundation.errors import NotFoundError, ShotlineError
from store import jobs
from store.db import session_scope
from store.models import Job


class ForbiddenError(ShotlineError):
    status_code = 403


@dataclass(frozen=True)
class Viewer:
    tenant: str | None
    """The key's tenant; None for the operator, who sees every tenant."""

    @property
    def operator(self) -> bool:
        return self.tenant is None

    def scope(self, wanted: str | None) -> str | None:
        """The tenant a view covers: ``wanted`` for the operator (None: all), the key's own
        tenant for a key (asking for another one is refused)."""
        if self.tenant is None or wanted in (None, self.tenant):
            return wanted if self.tenant is None else self.tenant
        raise ForbiddenError(
            f"a key of tenant {self.tenant!r} sees only that tenant, not {wanted!r} "
            "(the operator token sees every tenant)"
        )

    def job(self, db_url: str, job_id: str) -> Job:
        """A job this viewer may open; any other is the same 404."""
        with session_scope(db_url) as session:
            found = jobs.find_job(session, job_id)
            tenant = self.tenant if self.tenant is not None else found and found.tenant
            job = jobs.tenant_job(session, tenant, job_id) if tenant else None
        if job is None:
            raise NotFoundError(f"no job {job_id}")
        return job


def get_viewer(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Viewer:
    token = state.settings.metrics_token
    if credentials is not None and token is not None:
        given = credentials.credentials.encode()
        if hmac.compare_digest(given, token.get_secret_value().encode()):
            return Viewer(None)
    return Viewer(get_tenant(request, state, credentials))


ViewerDep = Annotated[Viewer, Depends(get_viewer)]
