"""OpenAI's moderation endpoint, used to screen storyboard texts when an OpenAI key is set.

Wire shape, checked against the openai Python SDK 3.60 (``resources/moderations.py``:
``POST /moderations`` with bearer auth; ``types/moderation_create_params.py``: ``input`` is a
string, an array of strings or multi-modal parts, ``model`` e.g. ``omni-moderation-latest``;
``types/moderation_create_response.py`` and ``types/moderation.py``: ``{id, model, results: [{flagged,
categories: {name: bool}, category_scores: {name: float}, category_applied_input_types}]}``, one
result per input, in input order). "The moderation endpoint is free to use" (OpenAI's moderation
guide, as mirrored by spybara.com on 2026-05-02).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters._http import HttpClient
from adapters.errors import ProviderFailureError

DEFAULT_MODEL = "omni-moderation-latest"
BATCH = 32  # texts per request: bounded, so one huge storyboard is not one huge body


@dataclass(frozen=True)
class ModerationResult:
    flagged: bool
    categories: tuple[str, ...] = ()  # the flagged ones, highest score first
    scores: dict[str, float] = field(default_factory=dict)

    @property
    def top(self) -> str:
        return self.categories[0] if self.categories else ""


def _result(item: Any) -> ModerationResult:
    if not isinstance(item, dict) or not isinstance(item.get("flagged"), bool):
        raise ProviderFailureError("moderation result without `flagged`", "openai", item)
    scores = {
        str(k): float(v)
        for k, v in (item.get("category_scores") or {}).items()
        if isinstance(v, int | float)
    }
    flagged = [str(k) for k, v in (item.get("categories") or {}).items() if v is True]
    flagged.sort(key=lambda name: -scores.get(name, 0.0))
    return ModerationResult(item["flagged"], tuple(flagged), scores)


class OpenAIModeration:
    """``moderate(texts)`` -> one ``ModerationResult`` per text; raises ``ProviderError``s."""

    name = "openai-moderation"

    def __init__(
        self,
        api_key: str,
        base_url: str = "https://api.openai.com/v1",
        model: str = DEFAULT_MODEL,
        *,
        timeout_s: float = 15.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.model = model
        self.http = HttpClient(
            "openai",
            base_url,
            {"Authorization": f"Bearer {api_key}"},
            timeout=timeout_s,
            transport=transport,
        )

    def moderate(self, texts: Sequence[str]) -> list[ModerationResult]:
        results: list[ModerationResult] = []
        for start in range(0, len(texts), BATCH):
            chunk = list(texts[start : start + BATCH])
            body = self.http.json(
                "POST", "/moderations", json={"model": self.model, "input": chunk}
            )
            items = body.get("results")
            if not isinstance(items, list) or len(items) != len(chunk):
                raise ProviderFailureError(
                    f"moderation answered {len(items) if isinstance(items, list) else 'no'} "
                    f"results for {len(chunk)} inputs",
                    "openai",
                    body,
                )
            results += [_result(item) for item in items]
        return results

    def close(self) -> None:
        self.http.close()
