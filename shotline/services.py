"""What the commands that make jobs check first: the services a job shares with other processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.context import RunContext


def check_shared(ctx: RunContext) -> None:
    """Raise unless this process can use the asset store and, under the Celery engine, the
    broker: before any job is made, so that neither is first met by a job (``render``,
    ``commit``, ``serve``)."""
    ctx.assets.check()
    if ctx.settings.engine == "celery":
        from pipeline.celery_app import check_broker

        check_broker(ctx.settings)
