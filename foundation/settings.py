"""Typed settings from ``SHOTLINE_*`` environment variables and an optional ``.env`` file."""

from __future__ import annotations

from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from foundation.errors import InvalidInputError, Problem

DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
"""The URL schemes of the databases shotline installs drivers for (SQLAlchemy 2.1's plain
``postgresql`` is psycopg 3)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOTLINE_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path(".shotline")
    database_url: str | None = None
    asset_dir: Path | None = None
    # --- the asset store (README "Asset store"): unset keeps every file under asset_dir; an
    # s3://bucket/prefix URL puts shared files in an S3-compatible bucket (asset_dir caches them)
    asset_store: str | None = None
    s3_endpoint_url: str | None = None  # e.g. MinIO, R2 (default: AWS)
    s3_region: str | None = None
    s3_access_key_id: str | None = None  # default: boto3's chain (AWS_* variables, profile, role)
    s3_secret_access_key: SecretStr | None = None
    asset_url_ttl_s: int = Field(default=3600, ge=1, le=604800)  # signed download URLs
    registry: Path | None = None
    ffmpeg: Path | None = None  # default: the FFmpeg of the locked imageio-ffmpeg wheel
    ffmpeg_nice: int = 5  # FFmpeg runs this much nicer than shotline (0: same priority)
    pipeline_nice: int = 5  # `serve`'s step threads run this much nicer than its request handling
    engine: Literal["embedded", "celery"] = "embedded"
    broker_url: str = "redis://127.0.0.1:6379/0"
    # Redis shared by every process for provider limits and circuit breakers (default: the broker
    # when the distributed engine runs; the embedded engine keeps them in its own memory)
    limits_url: str | None = None
    breaker_cooldown_s: float = Field(default=60.0, gt=0)
    io_workers: int = 8
    cpu_workers: int = 2
    require_services: bool = False
    emulator_url: str | None = None
    poll_interval_s: float = 2.0  # the shortest interval between two polls of a provider job
    poll_max_interval_s: float | None = None  # the longest (default: 15 poll intervals)
    allow_unverified: bool = False  # route to models the registry marks unverified
    slot_lease_min_s: float = Field(default=60.0, gt=0)  # a dead worker's slot frees after
    attempt_timeout_s: float = 900.0
    max_attempts_per_shot: int = 4
    fallback_on_safety: bool = True
    share_shot_cache: bool = False  # reuse accepted clips across tenants (default: per tenant)
    share_routing_stats: bool = False  # learn acceptance and render times from every tenant's
    #   attempts (default: each tenant's own, over the registry's priors)
    backoff_base_s: float = 1.0
    backoff_max_s: float = 60.0

    # --- what one submitted storyboard may hold (refused with a 422 / exit 2 past these) ---
    max_shots: int = Field(default=200, ge=1)
    max_total_duration_s: float = Field(default=1800.0, gt=0)
    max_document_nodes: int = Field(default=100_000, ge=100)  # YAML/JSON nodes, aliases expanded
    max_document_depth: int = Field(default=64, ge=8)

    # --- screening before spend (README "Screening") ---
    prompt_policy: Path | None = None  # a rule file replacing quality/prompt_policy.yaml
    image_safety: bool = True  # the local classifier on every reference image
    image_safety_threshold: float = Field(default=0.8, gt=0, le=1)
    moderation: bool = True  # OpenAI's moderation endpoint, when openai_api_key is set
    moderation_url: str = "https://api.openai.com/v1"

    runway_api_key: SecretStr | None = None
    gemini_api_key: SecretStr | None = None  # the Gemini judge (generateContent)
    # Veo runs on Vertex AI: an OAuth2 access token (e.g. `gcloud auth print-access-token`, valid
    # about an hour) for a project and region; the Gemini API key does not reach Veo any more
    vertex_access_token: SecretStr | None = None
    vertex_project: str | None = None
    vertex_location: str = "us-central1"
    kling_api_key: SecretStr | None = None
    luma_api_key: SecretStr | None = None
    fal_key: SecretStr | None = None
    replicate_api_token: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    elevenlabs_api_key: SecretStr | None = None  # text to speech only (a shot's tts stage)

    public_url: str | None = None  # where providers can reach our webhooks (none: poll only)
    replicate_webhook_secret: SecretStr | None = None
    gemini_webhook_secret: SecretStr | None = None
    openai_webhook_secret: SecretStr | None = None
    fal_jwks_url: str = "https://rest.alpha.fal.ai/.well-known/jwks.json"

    # --- distributed engine (Celery): queues, time limits, reaper ---
    queue_prefix: str = ""
    io_time_limit_s: float = 120.0
    cpu_time_limit_s: float = 1800.0
    cpu_max_tasks_per_child: int = 50
    reap_interval_s: float = 15.0
    # the beat's provider check (free endpoints; opens the breaker of a model a provider no longer
    # lists): every this many seconds, 0 to turn it off; it never runs without a provider key
    provider_check_interval_s: float = Field(default=3600.0, ge=0)
    reap_after_s: float = 60.0
    # a running Celery step's lease, renewed every third of it while its worker lives: a step of a
    # worker that died (and never came back under its name) is sent again soon after it ends
    step_lease_s: float = Field(default=90.0, gt=0)
    max_reaps: int = 8
    broker_visibility_timeout_s: float = 3600.0
    # the day lifecycles and prices are evaluated on (``foundation.clock`` reads it from the
    # environment, for this process and those it starts); here so that a value that is no date is
    # refused at start-up, naming it, not by the first route
    today: date | None = None

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, url: str | None) -> str | None:
        """Only the databases and drivers shotline installs (another driver failed at its first
        use with ``ModuleNotFoundError``; an in-memory SQLite is a new empty database on every
        connection)."""
        if url is None:
            return url
        scheme, _, rest = url.partition("://")
        path = rest.removeprefix("/").partition("?")[0]
        if scheme == "sqlite" and (not rest.startswith("/") or path in ("", ":memory:")):
            raise ValueError(
                "an embedded database is a file: sqlite:///PATH (an in-memory one would be a new "
                "empty database on every connection)"
            )
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                "shotline runs on SQLite (sqlite:///PATH) or PostgreSQL through psycopg "
                f"(postgresql+psycopg://USER@HOST/DB), not {scheme or url!r}"
            )
        return url

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return _sqlite_url(self.data_dir, None if self.data_dir.is_absolute() else Path.cwd())

    @property
    def assets(self) -> Path:
        return (self.asset_dir or self.data_dir / "assets").resolve()

    @property
    def written_folders(self) -> list[Path]:
        """Where shotline writes: the data folder (database, work files) and the asset folder."""
        return list(dict.fromkeys([self.data_dir.resolve(), self.assets]))

    @property
    def work_dir(self) -> Path:
        return (self.data_dir / "work").resolve()


@lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path, cwd: Path | None) -> str:
    """The embedded database's URL: resolved once per data directory (and working directory, for a
    relative one) instead of on every step's database access."""
    base = data_dir if cwd is None else cwd / data_dir
    return f"sqlite:///{(base / 'shotline.db').resolve()}"


class SettingsError(InvalidInputError):
    """An environment variable (or a ``.env`` line) holds a value its setting cannot take."""


def env_problems(error: ValidationError, prefix: str) -> list[Problem]:
    """Each error of validating settings as a problem at its variable (``SHOTLINE_MAX_SHOTS``)."""
    return [
        Problem(prefix + "__".join(str(part) for part in item["loc"]).upper(), item["msg"])
        for item in error.errors()
    ]


def make_folder(folder: Path, where: str, role: str = "") -> None:
    """Make ``folder`` and its parents if missing; ``SettingsError`` at ``where`` (the setting
    that names it) when it cannot be, saying what it is for (``role``)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocked = next(
            (p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None
        )
        cause = f"{blocked} is a file, not a folder" if blocked else exc.strerror or str(exc)
        why = f"{folder} cannot be made ({cause})" + (f": {role}" if role else "")
        raise SettingsError("the settings are invalid", [Problem(where, why)]) from None


@cache
def get_settings() -> Settings:
    """The process's settings; ``SettingsError`` naming each variable that holds a value its
    setting cannot take (not pydantic's traceback out of whichever command read them first)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError("the settings are invalid", env_problems(exc, "SHOTLINE_")) from None


#: Hosted provider id -> the settings field holding its credential (Google's is the Vertex AI
#: access token: Veo is served on Vertex only).
PROVIDER_CREDENTIALS: dict[str, str] = {
    "runway": "runway_api_key",
    "google": "vertex_access_token",
    "kling": "kling_api_key",
    "luma": "luma_api_key",
    "fal": "fal_key",
    "replicate": "replicate_api_token",
    "openai": "openai_api_key",
}


def provider_credential(settings: Settings, provider: str) -> SecretStr | None:
    """The secret ``provider`` is called with (``SHOTLINE_RUNWAY_API_KEY``, ...), if set."""
    field = PROVIDER_CREDENTIALS.get(provider)
    secret: SecretStr | None = getattr(settings, field) if field else None
    return secret
