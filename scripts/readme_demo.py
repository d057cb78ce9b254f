"""Put a real `samiksha demo` output into README.md, between its demo-output markers.

    python scripts/readme_demo.py               # run this checkout's demo (minutes on a CPU) in a temporary folder
    python scripts/readme_demo.py --from FILE   # use a demo's saved stdout instead

The demo's stdout (its tables) is kept from "demo test set" on, 100 columns wide; its log lines and progress bars
go to stderr and are left out. Rerun it whenever the demo data or the default recipe changes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
START, END = "<!-- demo output: from scripts/readme_demo.py -->", "<!-- end of demo output -->"


def demo_output() -> str:
    """The stdout of `samiksha demo` run in a fresh temporary folder."""
    env = {**os.environ, "COLUMNS": "100", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryDirectory() as folder:
        run = subprocess.run([sys.executable, "-m", "samiksha", "demo"], cwd=folder, env=env, capture_output=True,
                             text=True, check=True)
    return run.stdout


def splice(readme: str, output: str) -> str:
    """``readme`` with the text between the markers replaced by ``output`` (from "demo test set" on) in a fence."""
    lines = [line.rstrip() for line in output.splitlines()]
    first = next(i for i, line in enumerate(lines) if line.startswith("demo test set"))
    block = "\n".join([START, "", "```text", *lines[first:], "```", "", END])
    head, _, rest = readme.partition(START)
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"{README}: the markers {START!r} and {END!r} are missing")
    return head + block + tail


def main(argv: list[str]) -> None:
    output = Path(argv[argv.index("--from") + 1]).read_text(encoding="utf-8") if "--from" in argv else demo_output()
    README.write_text(splice(README.read_text(encoding="utf-8"), output), encoding="utf-8")
    print(f"wrote the demo output into {README}")


if __name__ == "__main__":
    main(sys.argv[1:])
