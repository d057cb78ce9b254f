"""Bad inputs: every command over a table of broken files gets one line and a non-zero exit, never a traceback;
no command overwrites its input; the loaders turn arbitrary bytes into a table or a DataError, nothing else."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
from conftest import make_reviews
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from samiksha.cli import app
from samiksha.data import iter_table, load_labelled, read_table
from samiksha.errors import DataError

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def tfidf_model(tmp_path_factory) -> Path:
    """A TF-IDF model (seconds to train), for every command that needs a model folder."""
    folder = tmp_path_factory.mktemp("bad-inputs")
    data = folder / "reviews.csv"
    make_reviews(12).to_csv(data, index=False)
    result = invoke("train", data, "-o", folder / "model", "--method", "tfidf")
    assert result.exit_code == 0, result.output
    return folder / "model"


# --- the fuzzed loaders -----------------------------------------------------------------------------------------

FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# text made of the characters that matter to CSV and JSON parsers, plus anything else
TABLE_TEXT = st.text(st.one_of(st.sampled_from(list(',;\t|"\'\n\r{}[]:\\ labeltx0123-=')),
                               st.characters(exclude_categories=("Cs",))), max_size=200)


def _load_all_ways(path: Path) -> None:
    """Each loader either returns or raises DataError; any other exception fails the test."""
    for load in (read_table, lambda p: list(iter_table(p, chunk_rows=3)), load_labelled):
        try:
            load(path)
        except DataError:
            pass


@FUZZ
@given(raw=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_loaders_turn_arbitrary_bytes_into_a_table_or_a_data_error(tmp_path, raw, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(raw)
    _load_all_ways(path)


@FUZZ
@given(text=TABLE_TEXT, suffix=st.sampled_from([".csv", ".tsv", ".jsonl"]))
def test_loaders_turn_arbitrary_text_into_a_table_or_a_data_error(tmp_path, text, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_text("text,label\n" + text if suffix == ".csv" else text, encoding="utf-8")
    _load_all_ways(path)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["text", "label", "x", ""]), inner,
                                                                 max_size=3),
    max_leaves=8)


@FUZZ
@given(lines=st.lists(JSON_VALUES.map(json.dumps) | TABLE_TEXT, max_size=6))
def test_loaders_turn_arbitrary_json_lines_into_a_table_or_a_data_error(tmp_path, lines):
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    _load_all_ways(path)


CELLS = st.text(st.sampled_from(list(',;\t"\n x1-=')), max_size=6) | st.sampled_from(["1", "2", "0", "positive", ""])


@FUZZ
@given(rows=st.lists(st.lists(CELLS, min_size=1, max_size=4), max_size=6), sep=st.sampled_from([",", ";", "\t"]),
       suffix=st.sampled_from([".csv", ".tsv"]))
def test_loaders_turn_arbitrary_rows_into_a_table_or_a_data_error(tmp_path, rows, sep, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_text(sep.join(["text", "label"]) + "\n" + "\n".join(sep.join(r) for r in rows),
                    encoding="utf-8")
    _load_all_ways(path)


# --- every command over a table of bad inputs -------------------------------------------------------------------

LABELLED = "text,label\n" + "".join(f"review {i},{'positive' if i % 2 else 'negative'}\n" for i in range(20))
BAD_DATA = {  # name -> (file content: bytes, str, None for a missing file, "folder" for a folder; labelled only?)
    "missing file": (None, False),
    "empty file": (b"", False),
    "binary garbage": (bytes(range(256)) * 4, False),
    "wrong columns": ("foo,bar\n1,2\n3,4\n", False),
    "bad labels": (LABELLED + "review 20,postive\n", True),
    "; CSV with a comma in its header": ("text;label,x\nachha;positive\nbura;negative\n", False),
    "broken quotes": ('text,label\ngood,positive\n"bad,negative\nok,neutral\n', False),
    "a folder": ("folder", False),
}
BAD_MODELS = ("missing", "not a model folder", "a file")

# How each command is called: (data, model, out) -> arguments; which of data and model it reads ("labelled" data
# or "unlabelled"). A command missing here fails test_every_command_is_swept.
COMMANDS = {
    "train": (lambda d, m, o: ["train", d, "-o", o / "m", "--method", "tfidf"], "labelled", False),
    "distill": (lambda d, m, o: ["distill", m, "-o", o / "m", "--unlabelled", d], "unlabelled", True),
    "evaluate": (lambda d, m, o: ["evaluate", m, d, "--plot", o / "cm.png"], "labelled", True),
    "predict": (lambda d, m, o: ["predict", m, "--input", d, "-o", o / "out.csv"], "unlabelled", True),
    "explain": (lambda d, m, o: ["explain", m, "achha hai"], None, True),
    "aspects": (lambda d, m, o: ["aspects", m, "--input", d, "-o", o / "out.csv"], "unlabelled", True),
    "export": (lambda d, m, o: ["export", m, "-o", o / "x", "--eval", d], "labelled", True),
    "demo": (lambda d, m, o: ["demo", "-o", d], "unlabelled", False),  # an existing file or folder as output
    "adapt": (lambda d, m, o: ["adapt", d, "-o", o / "enc"], "unlabelled", False),
    "report": (lambda d, m, o: ["report", d, "--model", m, "-o", o / "r.html", "--no-png"], "unlabelled", True),
    "serve": (lambda d, m, o: ["serve", m], None, True),
    "suggest": (lambda d, m, o: ["suggest", d, "-o", o / "s.csv", "-n", "2", "--model", m], "unlabelled", True),
    "audit": (lambda d, m, o: ["audit", d, "-o", o / "a.csv"], "labelled", False),
    "label": (lambda d, m, o: ["label", d, "--model", m], "unlabelled", True),
    "compare": (lambda d, m, o: ["compare", d, "-o", o / "c", "--methods", "tfidf", "--seeds", "1"], "labelled",
                False),
    "curve": (lambda d, m, o: ["curve", d, "-o", o / "c", "--methods", "tfidf", "--seeds", "1", "--sizes", "2"],
              "labelled", False),
}


def _cases():
    for command, (_, data, model) in COMMANDS.items():
        for name, (_, labelled_only) in BAD_DATA.items():
            if data == "labelled" or (data == "unlabelled" and not labelled_only):
                if command != "demo" or name in ("wrong columns", "a folder"):
                    yield pytest.param(command, name, None, id=f"{command}: {name}")
        if model:
            for name in BAD_MODELS:
                yield pytest.param(command, None, name, id=f"{command}: model {name}")


def test_every_command_is_swept():
    assert set(typer.main.get_command(app).commands) == set(COMMANDS)


def _bad_data(tmp_path: Path, name: str) -> Path:
    content, _ = BAD_DATA[name]
    path = tmp_path / "data.csv"
    if content == "folder":
        path.mkdir()
        (path / "keep.txt").write_text("not a table\n")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    return path


def _bad_model(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "model"
    if name == "not a model folder":
        path.mkdir()
        (path / "notes.txt").write_text("hello\n")
    elif name == "a file":
        path.write_text("hello\n")
    return path


def _assert_one_line(result) -> None:
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not an uncaught exception
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output


@pytest.mark.parametrize("command, data, model", list(_cases()))
def test_bad_input_gets_one_line_and_no_traceback(tmp_path, tfidf_model, monkeypatch, command, data, model):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("a server started on a bad input"))
    good = tmp_path / "good.csv"
    good.write_text(LABELLED, encoding="utf-8")
    arguments = COMMANDS[command][0](_bad_data(tmp_path, data) if data else good,
                                     _bad_model(tmp_path, model) if model else tfidf_model, tmp_path)
    _assert_one_line(invoke(*arguments))


def test_output_dot_in_a_folder_holding_config_json(tmp_path, monkeypatch):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "config.json").write_text("{}\n")
    (folder / "keep.txt").write_text("keep\n")
    (tmp_path / "data.csv").write_text(LABELLED, encoding="utf-8")
    monkeypatch.chdir(folder)
    result = invoke("train", tmp_path / "data.csv", "-o", ".", "--method", "tfidf")
    _assert_one_line(result)
    assert (folder / "keep.txt").read_text() == "keep\n"


# --- never overwrite an input -----------------------------------------------------------------------------------

def _same_file(tmp_path: Path, how: str) -> Path:
    """The pool itself, a symlink to it or a hard link to it: the output path a careless command would destroy."""
    pool = tmp_path / "pool.csv"
    if how == "itself":
        return pool
    other = tmp_path / f"{how}.csv"
    if how == "symlink":
        other.symlink_to(pool.name)
    else:
        os.link(pool, other)
    return other


OVERWRITES = {  # (pool, model, out) -> arguments that name an input as an output
    "suggest": lambda p, m, o: ["suggest", p, "-o", o, "-n", "5"],
    "label --export": lambda p, m, o: ["label", p, "--export", o],
    "label --labels-out": lambda p, m, o: ["label", p, "--labels-out", o],
    "predict": lambda p, m, o: ["predict", m, "--input", p, "--output", o],
    "aspects": lambda p, m, o: ["aspects", m, "--input", p, "--output", o],
    "audit": lambda p, m, o: ["audit", p, "--output", o],
    "evaluate --plot": lambda p, m, o: ["evaluate", m, p, "--plot", o],
}


@pytest.mark.parametrize("how", ["itself", "symlink", "hard link"])
@pytest.mark.parametrize("command", list(OVERWRITES))
def test_no_command_overwrites_its_input(tmp_path, tfidf_model, monkeypatch, command, how):
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: pytest.fail("a server started"))
    pool = tmp_path / "pool.csv"
    make_reviews(10).to_csv(pool, index=False)
    before = pool.read_bytes()
    target = _same_file(tmp_path, how)
    result = invoke(*OVERWRITES[command](pool, tfidf_model, target))
    _assert_one_line(result)
    assert f"{target}: the output would overwrite the input {pool}" in result.stderr
    assert pool.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"pool.csv", target.name})  # no temporary file left either


@pytest.mark.parametrize("command", ["train", "compare"])
def test_no_command_replaces_a_folder_holding_its_input(tmp_path, tfidf_model, command):
    data = tfidf_model / "eval.csv"
    before = data.read_bytes()
    if command == "train":
        result = invoke("train", data, "-o", tfidf_model, "--method", "tfidf")
        message = f"{tfidf_model}: would replace the folder holding the input {data}"
    else:
        report = tmp_path / "leaderboard.md"
        report.write_text("text,label\n")
        result = invoke("compare", data, "--eval", report, "-o", tmp_path, "--methods", "tfidf")
        message = f"{report}: the output would overwrite the input {report}"
    _assert_one_line(result)
    assert message in result.stderr and data.read_bytes() == before


def test_a_figure_is_written_atomically(tmp_path):
    from samiksha.storage import save_figure

    class Failing:
        def savefig(self, path, format):
            Path(path).write_bytes(b"half a PN")
            raise OSError("disk full")

    target = tmp_path / "cm.png"
    target.write_bytes(b"the old figure")
    with pytest.raises(OSError):
        save_figure(Failing(), target)
    assert target.read_bytes() == b"the old figure" and [p.name for p in tmp_path.iterdir()] == ["cm.png"]


# --- formulas in files meant for spreadsheets ---------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the page's csvCell")
def test_the_pages_csv_download_defuses_formulas_as_owasp_advises():
    source = (Path(__file__).parents[1] / "src/samiksha/static/app.js").read_text(encoding="utf-8")
    function = re.search(r"\n  function csvCell\(value\) \{\n.*?\n  \}\n", source, re.S).group(0)
    cells = ['=HYPERLINK("http://x","y")', "=1+2", "+91 98765", "-bakwas", "@SUM(1)", "\tx", "-1", "0.5", "+2.5e3",
             "mast, sasta", "अच्छा"]
    script = f"{function}\nconsole.log(JSON.stringify({json.dumps(cells)}.map(csvCell)));"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ['"\'=HYPERLINK(""http://x"",""y"")"', "'=1+2", "'+91 98765", "'-bakwas", "'@SUM(1)",
                               "'\tx", "-1", "0.5", "+2.5e3", '"mast, sasta"', "अच्छा"]
