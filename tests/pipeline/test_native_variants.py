"""A native variant render that no model delivers leaves that shot's variant reframed: the try
is recorded and settled, the job is delivered, the variant verified."""

from __future__ import annotations

from adapters.base import GenerationRequest
from adapters.errors import RejectedInputError
from pipeline.engine import EmbeddedEngine
from pipeline.planning import create_job
from pipeline.report import job_report
from tests.pipeline.conftest import ScriptedAdapter, shot, tiny_board


class PortraitRefused(ScriptedAdapter):
    """The local renderer, refusing every portrait request."""

    def submit(self, request: GenerationRequest) -> str:
        if request.height > request.width:
            self.submitted.append(request)
            raise RejectedInputError("portrait refused", "local")
        return super().submit(request)


def test_a_native_render_refused_everywhere_leaves_the_variant_reframed(ctx, tmp_path):
    adapter = PortraitRefused(ctx.settings.work_dir)
    ctx._adapters["local"] = adapter
    output = {"size": "160x90", "fps": 24, "variants": [{"aspect": "9:16", "render": "native"}]}
    job_id = create_job(ctx, tiny_board(shot("a"), output=output), output=tmp_path / "out.mp4")
    assert EmbeddedEngine(ctx).run(job_id) == "delivered"
    report = job_report(ctx.db_url, job_id)
    row = report["shots"][0]["variants"]["9x16"]
    assert (row["planned"], row["render"], row["cost_usd"]) == ("native", "reframe", 0)
    assert row["tries"] == ["native local/animatic: rejected_input"]
    assert [(r.width, r.height) for r in adapter.submitted] == [(160, 90), (90, 160)]
    assert report["verification"]["variants"]["9x16"]["passed"]
