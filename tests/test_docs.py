"""The documentation cannot drift: docs/cli.md is the live help, every code fence closes on its own line, relative
links lead to files, and the Python blocks of README.md and docs/python.md run (the README's outputs are checked
against the demo model in the slow suite)."""

from __future__ import annotations

import doctest
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_reviews

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^\s*(```+|~~~+)(.*)$")
MARK = re.compile(r"<!--\s*docs-test:\s*(\w+)\s*-->")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def python_blocks(page: Path) -> list[tuple[int, str, str]]:
    """(line, mark, code) of each ```python block; the mark is from a `<!-- docs-test: slow -->` line just above."""
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks, start, language = [], None, ""
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if not fence:
            continue
        if start is None:
            start, language = number, fence.group(2).strip()
        else:
            if language == "python":
                above = next((lines[i] for i in range(start - 2, -1, -1) if lines[i].strip()), "")
                mark = MARK.search(above)
                blocks.append((start, mark.group(1) if mark else "fast", "\n".join(lines[start:number - 1])))
            start = None
    return blocks


def test_every_code_fence_closes_on_a_line_of_its_own():
    for page in PAGES:
        inside = None
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if FENCE.match(line):
                closing = inside is not None
                assert not (closing and FENCE.match(line).group(2).strip()), \
                    f"{page.name}:{number}: a fence that closes must be ``` alone"
                inside = None if closing else number
            else:
                assert "```" not in line, f"{page.name}:{number}: ``` inside a line (a fence must be a line of its own)"
        assert inside is None, f"{page.name}:{inside}: this code fence never closes"


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces as hyphens."""
    seen: dict[str, int] = {}
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        inside ^= bool(FENCE.match(line))
        if not inside and line.startswith("#"):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
            if seen[slug]:
                seen[f"{slug}-{seen[slug]}"] = 0
    return set(seen)


def test_relative_links_lead_to_files_and_headings():
    for page in PAGES:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            path = (page.parent / file).resolve() if file else page
            assert path.exists(), f"{page.name}: link to {target}, which does not exist"
            if anchor and path.suffix == ".md":
                assert anchor in anchors(path), f"{page.name}: link to {target}, a heading {path.name} does not have"


def test_cli_md_is_the_live_help():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "cli_docs.py"), "--check"], capture_output=True,
                         text=True, cwd=ROOT)
    assert run.returncode == 0, ("docs/cli.md differs from the live help. Regenerate it with one command: "
                                 f"python scripts/cli_docs.py\n{run.stderr[-2000:]}")


def test_the_readme_is_a_door():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 300
    assert "bash scripts/demo.sh" in text and "bash scripts/test.sh" in text


@pytest.fixture
def docs_folder(tmp_path, monkeypatch, trained_tiny):
    """A folder holding the files the documentation's blocks name, with the tiny model as every model folder."""
    for name in ("my-model", "samiksha-demo-model"):
        shutil.copytree(trained_tiny, tmp_path / name)
    make_reviews(12).to_csv(tmp_path / "reviews.csv", index=False)
    make_reviews(4, seed=1).to_csv(tmp_path / "test.csv", index=False)
    make_reviews(8, seed=2).to_csv(tmp_path / "labelled.csv", index=False)
    make_reviews(5, seed=3)[["text"]].to_csv(tmp_path / "more-reviews.csv", index=False)
    (tmp_path / "reviews").mkdir()
    make_reviews(3, seed=4)[["text"]].to_csv(tmp_path / "reviews" / "week1.csv", index=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_blocks(page: Path, marks: set[str], check_outputs: bool = False) -> int:
    """Run the page's Python blocks with these marks in order, in one namespace; return how many ran. Doctest
    blocks (``>>>``) have their outputs compared only when ``check_outputs``."""
    namespace: dict = {"__name__": "__docs__"}
    ran = 0
    for line, mark, code in python_blocks(page):
        if mark not in marks:
            continue
        ran += 1
        where = f"{page.name}, the block at line {line}"
        if ">>>" not in code:
            exec(compile(code, where, "exec"), namespace)  # noqa: S102 - the documentation's own code
            continue
        test = doctest.DocTestParser().get_doctest(code, namespace, where, str(page), line)
        if check_outputs:
            runner = doctest.DocTestRunner(optionflags=FLAGS)
            runner.run(test, clear_globs=False)
            assert runner.failures == 0, f"{where}: the output shown is not what the code gives (see above)"
        else:
            for example in test.examples:
                exec(compile(example.source, where, "single"), namespace)  # noqa: S102
    return ran


@pytest.mark.parametrize("page", ["README.md", "docs/python.md"])
def test_the_python_blocks_run(docs_folder, page):
    assert run_blocks(ROOT / page, {"fast"}) > 0


@pytest.mark.slow
def test_the_slow_python_blocks_run(docs_folder):
    assert run_blocks(ROOT / "docs" / "python.md", {"fast", "slow"}) > 0


@pytest.mark.slow
def test_the_readme_shows_what_the_demo_model_gives(tmp_path, monkeypatch):
    """The README's outputs are those of the model `bash scripts/demo.sh` writes, in a clean clone."""
    from typer.testing import CliRunner

    from samiksha.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["demo"])
    assert result.exit_code == 0, result.output
    assert run_blocks(ROOT / "README.md", {"fast", "slow"}, check_outputs=True) > 0


def test_a_plain_install_pulls_no_test_tools():
    """`pip install .` (the README's promise) installs Samiksha alone; test tools and Ray come with extras."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower() for requirement in project["dependencies"]}
    test_tools = {"pytest", "hypothesis", "playwright", "schemathesis", "ray", "httpx", "captum"}
    assert not names & test_tools
    extras = project["optional-dependencies"]
    assert {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in extras["test"]} >= test_tools
    assert any(r.startswith("ray") for r in extras["ray"])
