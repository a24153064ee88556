"""``/v1/models``: the registry with lifecycle and prices (``/v1/costs`` lives in ``api.costs``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import StateDep, TenantDep
from api.errors import AUTH, responses
from api.schemas import ModelsRead
from foundation import clock

router = APIRouter(prefix="/v1", tags=["catalog"])


@router.get("/models", response_model=ModelsRead, responses=responses(*AUTH))
def models(state: StateDep, tenant: TenantDep) -> dict[str, Any]:
    registry = state.ctx.registry
    data = registry.to_dict()
    today = clock.today()
    for entry, spec in zip(data["models"], registry.models, strict=True):
        entry["status"] = str(spec.lifecycle.status(today))
    return {"models": data["models"], "fallback_chains": data["fallback_chains"]}
