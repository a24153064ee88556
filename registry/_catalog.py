"""Loading the catalog: built-in ``models.yaml`` plus an optional user file adding or overriding."""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from foundation import clock
from foundation.errors import Problem
from registry._billing import UNKNOWN_BILLING, BillingRules
from registry._build import build_spec
from registry._kinds import ModelKind
from registry._pricing import RESOLUTIONS
from registry._schema import ModelIn, RegistryFileIn
from registry._spec import (
    AudioSupport,
    LifecycleStatus,
    ModelSpec,
    ProviderSpec,
    Submission,
    Tier,
)
from registry.errors import PriceUnavailableError, RegistryFileError, UnknownModelError

BUILTIN = Path(__file__).with_name("models.yaml")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Registry:
    """The validated catalog: every model (retired ones too), the fallback chains per tier and
    per provider the API origins its credential may be sent to."""

    models: list[ModelSpec]
    fallback_chains: Mapping[Tier, tuple[str, ...]] = field(default_factory=dict)
    sources: tuple[Path, ...] = ()
    provider_specs: Mapping[str, ProviderSpec] = field(default_factory=dict)
    _by_id: dict[str, ModelSpec] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update({m.id: m for m in self.models})

    def get(self, model_id: str) -> ModelSpec:
        try:
            return self._by_id[model_id]
        except KeyError:
            close = difflib.get_close_matches(model_id, list(self._by_id), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise UnknownModelError(f"no model {model_id!r} in the registry{hint}") from None

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._by_id

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def providers(self) -> set[str]:
        return {m.provider for m in self.models}

    def api_origins(self, provider: str) -> tuple[str, ...]:
        """Where ``provider``'s credential may go (empty for a provider without an entry)."""
        spec = self.provider_specs.get(provider)
        return spec.api_origins if spec else ()

    def billing(self, provider: str) -> BillingRules:
        """What ``provider`` charges per outcome (all ``unknown`` for a provider without rules)."""
        spec = self.provider_specs.get(provider)
        return spec.billing if spec else UNKNOWN_BILLING

    def submission(self, provider: str) -> Submission:
        """How a lost create of ``provider`` is found again (``none`` without an entry)."""
        spec = self.provider_specs.get(provider)
        return spec.submission if spec else Submission()

    def routable(self, today: date | None = None) -> list[ModelSpec]:
        day = today or clock.today()
        return [
            m
            for m in self.models
            if m.enabled
            and m.lifecycle.status(day) not in (LifecycleStatus.RETIRED, LifecycleStatus.UPCOMING)
        ]

    def of_kind(self, kind: ModelKind, today: date | None = None) -> list[ModelSpec]:
        """The routable models of one kind (``video`` for a shot's video stage)."""
        return [m for m in self.routable(today) if m.kind is kind]

    def chain(self, tier: Tier) -> tuple[str, ...]:
        return self.fallback_chains.get(tier, ())

    def to_dict(self) -> dict[str, Any]:
        return {
            "sources": [str(s) for s in self.sources],
            "fallback_chains": {str(k): list(v) for k, v in self.fallback_chains.items()},
            "providers": {
                p.id: {
                    "api_origins": list(p.api_origins),
                    "billing": p.billing.to_dict(),
                    "submission": {
                        "mechanism": p.submission.mechanism,
                        "source": p.submission.source,
                    },
                }
                for p in self.provider_specs.values()
            },
            "models": [m.to_dict() for m in self.models],
        }


def load_registry(extra: Path | None = None) -> Registry:
    """The built-in catalog plus ``extra`` (or ``settings.registry`` / ``SHOTLINE_REGISTRY``).

    A model in the user file with an existing id is merged over the built-in entry (mappings merge,
    other values replace); a new id is added. Raises ``RegistryFileError`` naming model and field.
    """
    if extra is None:
        from foundation.settings import get_settings

        extra = get_settings().registry
    files = (BUILTIN,) if extra is None else (BUILTIN, extra)
    return _load_versions(tuple((path, _version(path)) for path in files))


def _version(path: Path) -> tuple[int, int] | None:
    """What tells one content of ``path`` from another without reading it (None: unreadable)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=16)
def _load_versions(versions: tuple[tuple[Path, tuple[int, int] | None], ...]) -> Registry:
    """The registry of these files at these versions, built once per process (the registry is
    immutable, so every context shares it; an invalid file raises and is not remembered)."""
    files = [path for path, _ in versions]
    raw_models: dict[str, tuple[dict[str, Any], str]] = {}
    chains: dict[Tier, list[str]] = {}
    providers: dict[str, ProviderSpec] = {}
    problems: list[Problem] = []
    for path in files:
        parsed = _read(path)
        if isinstance(parsed, list):
            problems += parsed
            continue
        chains.update(parsed.fallback_chains)
        providers.update({name: raw.build(name) for name, raw in parsed.providers.items()})
        problems += _merge(raw_models, parsed.models, path)
    models = _build(raw_models, problems)
    problems += _check_chains(chains, {m.id for m in models})
    problems += _check_providers(models, providers)
    if problems:
        raise RegistryFileError("the model registry is invalid", problems)
    chain_tuples = {k: tuple(v) for k, v in chains.items()}
    return Registry(models, chain_tuples, tuple(files), providers)


def _read(path: Path) -> RegistryFileIn | list[Problem]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except FileNotFoundError:
        return [Problem(str(path), "no such registry file")]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return [Problem(str(path), f"cannot be read as YAML: {exc}")]
    if not isinstance(data, dict):
        return [Problem(str(path), "top level must be a mapping with a `models:` list")]
    try:
        return RegistryFileIn.model_validate(data)
    except ValidationError as exc:
        return [Problem(f"{path}:{_loc(e['loc'])}", e["msg"]) for e in exc.errors()]


def _merge(
    into: dict[str, tuple[dict[str, Any], str]], entries: list[dict[str, Any]], path: Path
) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        model_id = entry.get("id")
        where = f"{path}:models[{index}]"
        if not isinstance(model_id, str) or not model_id:
            problems.append(Problem(f"{where}.id", "every model needs an id"))
            continue
        if model_id in seen:
            problems.append(Problem(f"{where} ({model_id}).id", "duplicate model id in this file"))
            continue
        seen.add(model_id)
        base = into[model_id][0] if model_id in into else {}
        into[model_id] = (_deep_merge(base, entry), f"{where} ({model_id})")
    return problems


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(raw: dict[str, tuple[dict[str, Any], str]], problems: list[Problem]) -> list[ModelSpec]:
    models: list[ModelSpec] = []
    for entry, where in raw.values():
        try:
            spec = build_spec(ModelIn.model_validate(entry))
        except ValidationError as exc:
            problems += [
                Problem(f"{where}.{_loc(e['loc'])}".rstrip("."), _msg(e)) for e in exc.errors()
            ]
            continue
        problems += [Problem(f"{where}.price", gap) for gap in price_gaps(spec)]
        models.append(spec)
    return models


def price_gaps(spec: ModelSpec) -> list[str]:
    """Every offered (resolution, audio, length) the price table cannot quote (video models;
    a non-video model's ``usage_price`` is checked when the file is read)."""
    if spec.kind is not ModelKind.VIDEO:
        return []
    if spec.sizes.any_size:
        short = min(spec.sizes.max_width, spec.sizes.max_height)
        labels = [label for label, side in RESOLUTIONS.items() if side <= short]
    else:
        labels = list(dict.fromkeys(o.resolution for o in spec.sizes.options))
    audios = {AudioSupport.NONE: [False], AudioSupport.OPTIONAL: [False, True]}.get(
        spec.audio, [True]
    )
    gaps: list[str] = []
    for label in labels:
        durations = spec.durations_for(label)
        lengths = durations.grid or (durations.min_s, durations.max_s)
        for audio in audios:
            for seconds in lengths:
                try:
                    spec.price.quote(spec.id, seconds, label, audio, date.max)
                except PriceUnavailableError as exc:
                    gaps.append(exc.message.removeprefix(f"{spec.id}: "))
    return list(dict.fromkeys(gaps))


def _check_chains(chains: dict[Tier, list[str]], known: set[str]) -> list[Problem]:
    return [
        Problem(f"fallback_chains.{tier}[{i}]", f"unknown model {model_id!r}")
        for tier, ids in chains.items()
        for i, model_id in enumerate(ids)
        if model_id not in known
    ]


def _check_providers(
    models: list[ModelSpec], providers: Mapping[str, ProviderSpec]
) -> list[Problem]:
    """Every model's provider has a ``providers:`` entry, so its credential has an allowlist."""
    missing = sorted({m.provider for m in models} - set(providers))
    return [
        Problem(f"providers.{name}", "missing: list its api_origins (where its key may be sent)")
        for name in missing
    ]


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _msg(error: Any) -> str:
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "is required"
    return message
