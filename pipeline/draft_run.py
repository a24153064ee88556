"""Running a storyboard draft for the CLI and the API: its chat clients and its booking."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from adapters.chat import ChatClient, ChatPort
from adapters.gemini_chat import GeminiChatClient
from foundation.settings import Settings
from pipeline.draft import DraftBrief, DraftError, DraftResult, draft_storyboard
from registry import Registry
from router import StageDecision


def chat_clients(
    settings: Settings, emulator_urls: Mapping[str, str] | None = None
) -> dict[str, ChatPort]:
    """One client per chat provider, speaking the api its llm models declare in the registry:
    OpenAI's chat/completions, Gemini's native generateContent. At the emulator
    (``emulator_urls``: its judge base URLs, any key) or, live, each provider whose key is set
    (``SHOTLINE_OPENAI_API_KEY``, ``SHOTLINE_GEMINI_API_KEY``)."""
    if emulator_urls is not None:
        return {
            "openai": ChatClient("openai", "emulated", emulator_urls["openai"]),
            "gemini": GeminiChatClient("emulated", emulator_urls["gemini"]),
        }
    clients: dict[str, ChatPort] = {}
    if settings.openai_api_key is not None:
        clients["openai"] = ChatClient("openai", settings.openai_api_key.get_secret_value())
    if settings.gemini_api_key is not None:
        clients["gemini"] = GeminiChatClient(settings.gemini_api_key.get_secret_value())
    return clients


def run_draft(
    brief: DraftBrief,
    settings: Settings,
    registry: Registry,
    clients: Mapping[str, ChatPort],
    *,
    emulated: bool,
    tenant: str = "local",
    max_repairs: int = 2,
    pin: str | None = None,
) -> DraftResult:
    """Draft and book the cost (``ledger.drafts``), also when the draft fails (then re-raised).
    On real providers a draft the tenant's budget cannot pay for is refused before its first
    request (``BudgetExceededError``, nothing booked)."""
    admit = None if emulated else partial(_admit, settings, tenant)
    booking = _Booking(settings, tenant, registry, emulated)
    try:
        result = draft_storyboard(
            brief, registry, clients, max_repairs=max_repairs, pin=pin, admit=admit,
            on_round=partial(booking.book, valid=False),
        )  # fmt: skip
    except DraftError as exc:
        booking.book(exc.result, valid=False)
        raise
    booking.book(result, valid=True)
    return result


def _admit(settings: Settings, tenant: str, decision: StageDecision) -> None:
    from ledger.drafts import admit_draft
    from store.db import session_scope

    with session_scope(settings.db_url) as session:
        admit_draft(session, tenant, decision.quote_usd, decision.chain[0].model_id)


class _Booking:
    """One draft's row in the ledger (``ledger.drafts.book_draft``), booked after every round
    and once more at the end."""

    def __init__(self, settings: Settings, tenant: str, registry: Registry, emulated: bool):
        self.settings, self.tenant, self.registry, self.emulated = (
            settings, tenant, registry, emulated,
        )  # fmt: skip
        self.row_id: int | None = None

    def book(self, result: DraftResult, *, valid: bool) -> None:
        if not result.rounds:
            return
        from ledger.drafts import book_draft
        from store.db import session_scope

        model = result.model_id or ""
        provider = self.registry.get(model).provider if model in self.registry else ""
        with session_scope(self.settings.db_url) as session:
            row = book_draft(
                session, self.tenant, result.to_dict(), provider=provider,
                emulated=self.emulated, valid=valid, row_id=self.row_id,
            )  # fmt: skip
            self.row_id = row.id
