"""What a running pipeline needs, built once per process: settings, the database, the registry, the
breakers and provider limits (shared through Redis under the distributed engine) and one adapter
per provider (pointed at the emulators when the providers are emulated)."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from adapters.base import ProviderAdapter
from adapters.judges import GeminiJudge
from adapters.local import LocalAnimaticAdapter
from foundation.errors import Problem
from foundation.settings import Settings, SettingsError, get_settings, make_folder
from pipeline.assets import AssetStore, store_for
from pipeline.limits import LocalLimits, ProviderLimits
from pipeline.shared_limits import build_health, build_limits
from quality.scoring import JudgeScorer, judge_from_settings
from registry import Registry, load_registry
from router import HealthBook


@dataclass
class RunContext:
    settings: Settings
    registry: Registry
    providers: str = "local"
    health: HealthBook = field(default_factory=HealthBook)
    limits: ProviderLimits = field(default_factory=LocalLimits)
    base_urls: dict[str, str] = field(default_factory=dict)
    judge_base_urls: dict[str, str] = field(default_factory=dict)
    _adapters: dict[str, ProviderAdapter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _judge: dict[str, JudgeScorer | None] = field(default_factory=dict)

    @classmethod
    def create(cls, providers: str = "local", settings: Settings | None = None) -> RunContext:
        settings = settings or get_settings()
        writable_folders(settings)
        registry = load_registry(settings.registry)
        health, limits = build_health(settings, registry), build_limits(settings)
        return cls(settings, registry, providers, health=health, limits=limits)

    @property
    def db_url(self) -> str:
        return self.settings.db_url

    @property
    def emulated(self) -> bool:
        return self.providers == "emulated"

    @property
    def assets(self) -> AssetStore:
        """Where files every machine must see are put (``pipeline.assets``)."""
        return store_for(self.settings)

    def asset_dir(self, job_id: str) -> Path:
        return self.settings.assets / job_id

    def work_dir(self, job_id: str) -> Path:
        path = self.settings.work_dir / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def judge_scorer(self) -> JudgeScorer | None:
        """The VLM judge for final renders: the emulated one, else one whose key is set, else None."""
        if "judge" not in self._judge:
            url = self.judge_base_urls.get("gemini")
            if self.emulated and url:
                self._judge["judge"] = JudgeScorer(GeminiJudge("emulated-key", base_url=url))
            else:
                self._judge["judge"] = judge_from_settings(self.settings, registry=self.registry)
        return self._judge["judge"]

    def adapter(self, provider: str) -> ProviderAdapter:
        with self._lock:
            if provider not in self._adapters:
                self._adapters[provider] = self._build(provider)
            return self._adapters[provider]

    def _build(self, provider: str) -> ProviderAdapter:
        if provider == "local":
            return LocalAnimaticAdapter(self.settings.work_dir)
        from adapters.factory import build_adapter

        return build_adapter(
            provider,
            settings=self.settings,
            base_url=self.base_urls.get(provider),
            asset_dir=self.settings.assets,
            api_origins=self.registry.api_origins(provider),
        )


def writable_folders(settings: Settings) -> None:
    """Make the asset and work folders now; ``SettingsError`` naming the variable when one cannot
    be made or written (a job that found out at its first download had paid for its render)."""
    assets = "SHOTLINE_ASSET_DIR" if settings.asset_dir else "SHOTLINE_DATA_DIR"
    for folder, variable in ((settings.assets, assets), (settings.work_dir, "SHOTLINE_DATA_DIR")):
        make_folder(folder, variable)
        if not os.access(folder, os.W_OK | os.X_OK):
            why = f"{folder} is not writable by this process"
            raise SettingsError("the settings are invalid", [Problem(variable, why)])
