"""The README's links, anchors and section references resolve, the files it names exist, and the
examples it ships plan (storyboards) or load (emulator scenarios)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emulators.scenario import load_scenario
from shotline.cli import app
from tests.readme import document

EXAMPLES = sorted((document.ROOT / "examples").glob("*.yaml"))


def links() -> list[tuple[int, str]]:
    """(line, target) of every Markdown link outside code, web addresses left out."""
    return [
        (number, target)
        for number, line in document.lines_outside_code()
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`]*`", "", line))
        if not re.match(r"^[a-z][a-z+.-]*:", target)
    ]


def test_every_link_and_anchor_resolves() -> None:
    anchors = document.anchors()
    wrong = []
    for number, target in links():
        path, _, anchor = target.partition("#")
        if path and not (document.ROOT / path).exists():
            wrong.append(f"line {number}: {target} (no such file)")
        elif not path and anchor not in anchors:
            wrong.append(f"line {number}: {target} (no such heading)")
    assert wrong == []


def test_every_section_named_in_quotes_exists() -> None:
    """``see "Asset store"`` names a heading, or a bold paragraph (``**Stopping: ...**``)."""
    text = document.text()
    titles = document.headings()
    wrong = [
        name
        for name in re.findall(r'\b[Ss]ee "([^"]+)"', text)
        if not any(t.startswith(name) for t in titles) and f"**{name}" not in text
    ]
    assert wrong == []


def test_anchors_are_githubs() -> None:
    assert document.anchor("Preview, commit, and where the money goes") == (
        "preview-commit-and-where-the-money-goes"
    )
    assert (
        document.anchor("Variants: `OUT.9x16.mp4`, `OUT.1x1.mp4`")
        == "variants-out9x16mp4-out1x1mp4"
    )
    assert (
        document.anchor("Native renders in a variant's aspect")
        == "native-renders-in-a-variants-aspect"
    )


def test_every_file_of_the_checkout_it_names_exists() -> None:
    """Paths from the root of the checkout (``examples/...``, ``tests/...``, ``pipeline/x.py``,
    globs), and the names in them it points at: ``quality/gate.longest_decoded``,
    ``tests/x.py::TestY``."""
    roots = ("examples/", "benchmarks/", "tests/", "dashboards/", "Makefile", "pyproject.toml")
    packages = tuple(f"{p.name}/" for p in document.ROOT.iterdir() if (p / "__init__.py").exists())
    wrong = [
        path
        for _, span in document.code_spans()
        if (path := span.split()[0].rstrip(".,:;") if span.split() else "").startswith(
            roots + packages
        )
        and "." in Path(path).name
        and not resolves(path)
    ]
    outside = [span for _, span in document.code_spans() if span.startswith("../")]
    assert wrong + outside == []  # a reader of the checkout has nothing outside it


def resolves(path: str) -> bool:
    if "::" in path:
        file, *names = path.split("::")
        return all(defines(document.ROOT / file, name) for name in names)
    if "*" in path:
        return any(document.ROOT.glob(path))
    if (document.ROOT / path).exists():
        return True
    module, _, name = path.rpartition(".")
    return defines(document.ROOT / f"{module}.py", name)


def defines(source: Path, name: str) -> bool:
    pattern = rf"^\s*(def|class) {re.escape(name)}\b|^{re.escape(name)}\s*[:=]"
    return (
        source.is_file()
        and re.search(pattern, source.read_text(encoding="utf-8"), re.M) is not None
    )


def is_storyboard(path: Path) -> bool:
    return "scenes" in (yaml.safe_load(path.read_text(encoding="utf-8")) or {})


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_plans_or_loads(example: Path) -> None:
    if not is_storyboard(example):
        assert load_scenario(example).model_dump()  # an emulator scenario (`--scenario`)
        return
    result = CliRunner().invoke(app, ["plan", str(example), "--providers", "emulated", "--json"])
    assert result.exit_code == 0, result.output


def test_every_make_target_it_names_exists() -> None:
    makefile = (document.ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([\w-]+):", makefile, re.M))
    code = [c for _, c in [*document.code_spans(), *document.code_block_lines()]]
    named = [m for c in code for m in re.findall(r"^make(?: -j\d+)?((?: [a-z][\w-]*)+)", c.strip())]
    words = {w for group in named for w in group.split()}
    assert {"demo", "test"} <= words
    assert words - targets == set()
