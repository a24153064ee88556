"""The OpenAI judge, on the registry's model for the day of each call: ``OPENAI_JUDGE`` until the
registry retires it, then its replacement, priced from the registry (``usage_price``)."""

from __future__ import annotations

import logging
from datetime import date

from adapters.errors import ProviderFailureError
from adapters.judges import JudgeRequest, JudgeResult, OpenAICompatibleJudge
from foundation import clock
from registry import LifecycleStatus, ModelSpec, Registry

log = logging.getLogger(__name__)

OPENAI_JUDGE = "openai/gpt-4.1-mini"
"""It takes ``temperature`` 0; openai 3.60.0 announces its shutdown on 2027-01-14."""


def openai_judge_model(registry: Registry, today: date) -> ModelSpec:
    """The OpenAI judge's model ``today``: ``OPENAI_JUDGE`` until the registry retires it, then
    its ``replacement`` (and that one's, while each is retired). Raises ``ProviderFailureError``
    when the registry (a user's file may override it) lacks one of them."""
    model_id, seen = OPENAI_JUDGE, set()
    while model_id not in seen:
        seen.add(model_id)
        if model_id not in registry:
            raise ProviderFailureError(f"the judge's model {model_id} is not in the registry", NAME)
        spec = registry.get(model_id)
        replacement = spec.lifecycle.replacement
        if spec.lifecycle.status(today) is not LifecycleStatus.RETIRED or not replacement:
            return spec
        model_id = replacement
    return spec


def per_mtok(spec: ModelSpec) -> tuple[float, float]:
    """The model's input and output token prices per million, from the registry."""
    rates = [spec.usage_price.rate(m) if spec.usage_price else None for m in METERS]
    missing = [meter for meter, rate in zip(METERS, rates, strict=True) if rate is None]
    if missing:
        raise ProviderFailureError(f"{spec.id} has no {' or '.join(missing)} price", NAME)
    given = [rate.usd * 1_000_000 / rate.per for rate in rates if rate is not None]
    return given[0], given[1]


METERS = ("input_tokens", "output_tokens")
NAME = "openai_compatible"


class DatedOpenAIJudge:
    """An ``OpenAICompatibleJudge`` on the model ``openai_judge_model`` names on the day of each
    call (a server started before a shutdown moves on that day)."""

    name = NAME

    def __init__(self, api_key: str, base_url: str, registry: Registry) -> None:
        self.api_key, self.base_url, self.registry = api_key, base_url, registry
        self._clients: dict[str, OpenAICompatibleJudge] = {}

    def client(self, today: date) -> OpenAICompatibleJudge:
        spec = openai_judge_model(self.registry, today)
        if spec.id not in self._clients:
            price_in, price_out = per_mtok(spec)
            self._clients[spec.id] = OpenAICompatibleJudge(
                self.api_key,
                spec.provider_model,
                base_url=self.base_url,
                price_in_per_mtok=price_in,
                price_out_per_mtok=price_out,
            )
        return self._clients[spec.id]

    def judge(self, request: JudgeRequest) -> JudgeResult:
        return self.client(clock.today()).judge(request)
