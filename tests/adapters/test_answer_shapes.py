"""Whatever a provider answers is read into a result or into one of the taxonomy's errors
(``adapters.errors``), never into an error of ours. A poll that raised ``TypeError`` ended its
shot as an internal error, where a provider failure is retried or moves down the fallback chain;
a judge that raised one crashed the gate, where a judge failure leaves the clip to the local score.

Each client's calls are made once against the emulators, whose answers have the providers'
documented shapes (cited in ``emulators/routes``), and the answers are recorded; every example then
replays them with one value somewhere inside one JSON answer swapped for a value of another type,
or removed (a list where an object is documented, text where a number is, an object where a list
is). Found this way on 2026-12-07, and read since through ``adapters.errors.answer_shape``: the
OpenAI-shaped and Gemini chat clients, both judges, the three image clients, Veo's and Kling's
polls, Replicate's and Runway's fetch (an output URL with a control character in it, which httpx
refuses to send; Veo's inline video with a character outside base64's), and the lists of recent
jobs of fal, Luma and Replicate (``find_submission``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters._hosted import HostedAdapter
from adapters._images_fal import FalImageClient
from adapters._images_gemini import GeminiImageClient
from adapters._images_openai import OpenAIImageClient
from adapters.base import FindsLostSubmissions
from adapters.chat import ChatClient
from adapters.errors import ProviderError, ProviderFailureError
from adapters.factory import EMULATOR_KEY, HOSTED
from adapters.gemini_chat import GeminiChatClient
from adapters.google import EMULATOR_PROJECT
from adapters.images import ImageRequest
from adapters.judges import GeminiJudge, JudgeFrame, JudgeRequest, OpenAICompatibleJudge
from adapters.runway import RunwayAdapter
from emulators import EmulatorHandle
from tests.adapters.conftest import CASES, Case, request_for, wait
from tests.shapes import OTHER_VALUES, REMOVED, swapped_at

Key = tuple[str, str]  # (method, path) of a request


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    content: bytes


@dataclass
class Recording:
    """The last answer to each request a client made on the emulator at ``base``, and what its
    calls need to be made again."""

    base: str
    answers: dict[Key, Answer] = field(default_factory=dict)
    job_id: str = ""
    since: float = 0.0

    def json_answers(self) -> dict[Key, Any]:
        return {
            key: json.loads(answer.content)
            for key, answer in sorted(self.answers.items())
            if answer.content_type.startswith("application/json") and answer.content
        }


class Recordings(dict[str, Recording]):
    """Every client's recording, shown by name only in a failing example's report (a video's
    recorded bytes are hundreds of kB)."""

    def __repr__(self) -> str:
        return f"<the recorded answers of {len(self)} clients>"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


class Recorder(httpx.BaseTransport):
    def __init__(self, recording: Recording) -> None:
        self.recording, self.inner = recording, httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        content = response.read()
        kind = response.headers.get("content-type", "")
        key = (request.method, request.url.path)
        self.recording.answers[key] = Answer(response.status_code, kind, content)
        return httpx.Response(response.status_code, headers={"content-type": kind}, content=content)


def replayer(recording: Recording, swapped: dict[Key, Any]) -> httpx.MockTransport:
    """The recorded answers again, but ``swapped``'s bodies for its requests."""

    def handle(request: httpx.Request) -> httpx.Response:
        key = (request.method, request.url.path)
        answer = recording.answers.get(key)
        if answer is None:
            return httpx.Response(404, json={"error": {"message": "not recorded"}})
        content = json.dumps(swapped[key]).encode() if key in swapped else answer.content
        return httpx.Response(
            answer.status, headers={"content-type": answer.content_type}, content=content
        )

    return httpx.MockTransport(handle)


Outcome = tuple[str, object]  # (call, what it returned or raised)


def outcome(call: str, make: Callable[[], object]) -> Outcome:
    try:
        return call, make()
    except Exception as exc:  # the property: only the taxonomy's errors
        return call, exc


@dataclass(frozen=True)
class Client:
    """``calls(transport, recording, dest)``: the client's calls through ``transport``."""

    calls: Callable[[httpx.BaseTransport, Recording, Path], list[Outcome]]
    base: Callable[[EmulatorHandle], str]


LISTS_NOTHING = {"luma:ray-3.2"}  # Luma's Agents API raises instead (``test_find_submission``)


def video_calls(case: Case) -> Client:
    def calls(transport: httpx.BaseTransport, recording: Recording, dest: Path) -> list[Outcome]:
        adapter = video_adapter(case, recording.base, transport)
        request = request_for(case, "ok")
        done = [outcome("submit", lambda: adapter.submit(request))]
        if not recording.job_id:  # recording: a job to poll, fetch and find
            recording.job_id, recording.since = str(done[0][1]), time.time() - 60
            wait(adapter, recording.job_id)
        done.append(outcome("poll", lambda: adapter.poll(recording.job_id)))
        done.append(outcome("fetch", lambda: adapter.fetch(recording.job_id, dest)))
        if isinstance(adapter, FindsLostSubmissions) and case.id not in LISTS_NOTHING:
            find = adapter.find_submission
            done.append(outcome("find_submission", lambda: find(request, recording.since)))
        return done

    return Client(calls, lambda emulator: emulator.base_urls[case.provider])


def video_adapter(case: Case, base: str, transport: httpx.BaseTransport) -> HostedAdapter:
    kwargs: dict[str, Any] = {"api_key": EMULATOR_KEY, "base_url": base, "transport": transport}
    if case.provider == "google":
        kwargs["project"] = EMULATOR_PROJECT
    return HOSTED[case.provider](**kwargs)


def jpeg() -> bytes:
    picture = np.zeros((36, 64, 3), np.uint8)
    picture[:, 32:] = (40, 160, 220)
    return bytes(cv2.imencode(".jpg", picture)[1])


JUDGED = JudgeRequest(
    "a lighthouse at dusk", 2.0, (JudgeFrame(0.5, jpeg()), JudgeFrame(1.5, jpeg()))
)
CHAT = [{"role": "user", "content": "Write one line about a lighthouse."}]


def one_call(call: str, make: Callable[[httpx.BaseTransport, str], object], path: str) -> Client:
    """A client of one call, ``make(transport, base_url)``, served under ``path`` by the emulator."""

    def calls(transport: httpx.BaseTransport, recording: Recording, dest: Path) -> list[Outcome]:
        return [outcome(call, lambda: make(transport, recording.base))]

    return Client(calls, lambda emulator: f"{emulator.base_url}{path}")


CLIENTS: dict[str, Client] = {
    **{case.id: video_calls(case) for case in CASES},
    "openai images": one_call(
        "generate",
        lambda t, base: OpenAIImageClient("k", base_url=base, transport=t).generate(
            ImageRequest("gpt-image-2", "a fox", size="1088x608")
        ),
        "/openai/v1",
    ),
    "fal images": one_call(
        "generate",  # a short deadline: a swapped status keeps it polling until then
        lambda t, base: FalImageClient(
            "id:secret", base_url=base, transport=t, timeout=0.2
        ).generate(ImageRequest("fal-ai/flux/schnell", "a fox", size="320x180", seed=1)),
        "/fal",
    ),
    "gemini images": one_call(
        "generate",
        lambda t, base: GeminiImageClient("k", base_url=base, transport=t).generate(
            ImageRequest("gemini-2.5-flash-image", "a fox", aspect="16:9")
        ),
        "/google/v1beta",
    ),
    "openai chat": one_call(
        "complete",
        lambda t, base: ChatClient("openai", "k", base, client=httpx.Client(transport=t)).complete(
            {"model": "gpt-4.1-mini", "messages": CHAT}
        ),
        "/openai/v1",
    ),
    "gemini chat": one_call(
        "complete",
        lambda t, base: GeminiChatClient("k", base, transport=t).complete(
            {"model": "gemini-3.5-flash-lite", "messages": CHAT}
        ),
        "/google/v1beta",
    ),
    "gemini judge": one_call(
        "judge",
        lambda t, base: GeminiJudge("k", base_url=base, client=httpx.Client(transport=t)).judge(
            JUDGED
        ),
        "/google/v1beta",
    ),
    "openai judge": one_call(
        "judge",
        lambda t, base: OpenAICompatibleJudge(
            "k", "gpt-judge", base_url=base, client=httpx.Client(transport=t)
        ).judge(JUDGED),
        "/openai/v1",
    ),
}


@pytest.fixture(scope="module")
def recorded(
    emulator: EmulatorHandle, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Recording]:
    """Every client's calls against the emulators, each answer recorded."""
    recordings = Recordings()
    for name, client in CLIENTS.items():
        recording = recordings[name] = Recording(client.base(emulator))
        made = client.calls(Recorder(recording), recording, tmp_path_factory.mktemp("recorded"))
        failed = [(call, result) for call, result in made if isinstance(result, Exception)]
        assert not failed, f"{name}: the emulator's own answers failed: {failed}"
    return recordings


@pytest.fixture(scope="module")
def dest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("replayed")


def swapped(answers: dict[Key, Any], which: int, where: int, value: object) -> tuple[Key, Any]:
    """One recorded JSON answer (the ``which``-th) with its ``where``-th value swapped for
    ``value`` (or removed): ``tests.shapes.swapped_at``."""
    key = sorted(answers)[which % len(answers)]
    return key, swapped_at(answers[key], where, value)


def test_the_replayed_answers_read_as_they_did(recorded: dict[str, Recording], dest: Path) -> None:
    """The harness replays what it recorded: every call succeeds again (so a swapped value is
    what makes an example fail)."""
    for name, client in CLIENTS.items():
        recording = recorded[name]
        assert recording.json_answers(), f"{name}: no JSON answer recorded"
        made = client.calls(replayer(recording, {}), recording, dest)
        failed = [(call, result) for call, result in made if isinstance(result, Exception)]
        assert not failed, f"{name}: {failed}"


@pytest.mark.parametrize("name", sorted(CLIENTS))
@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    which=st.integers(0, 63),
    where=st.integers(0, 1023),
    value=st.one_of(st.just(REMOVED), OTHER_VALUES),
)
def test_any_answer_reads_as_a_result_or_a_provider_error(
    name: str, recorded: dict[str, Recording], dest: Path, which: int, where: int, value: object
) -> None:
    recording = recorded[name]
    key, body = swapped(recording.json_answers(), which, where, value)
    for call, result in CLIENTS[name].calls(replayer(recording, {key: body}), recording, dest):
        assert not isinstance(result, Exception) or isinstance(result, ProviderError), (
            f"{name} {call}, {key[0]} {key[1]} answered {json.dumps(body)[:300]}: "
            f"{type(result).__name__}: {result}"
        )


def test_a_job_id_no_url_can_hold_fails_its_poll_as_the_provider_s() -> None:
    """A provider's job id with a control character in it: httpx refuses the poll's URL."""
    answer = {"id": "task\x00one", "status": "RUNNING"}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    adapter = RunwayAdapter(api_key="k", base_url="https://api.runway.test", transport=transport)
    with pytest.raises(ProviderFailureError, match="unusable URL"):
        adapter.poll("task\x00one")
