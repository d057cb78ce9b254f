"""Write docs/cli.md, the command reference, from the live Typer help (Typer's own Markdown renderer).

    python scripts/cli_docs.py           # regenerate docs/cli.md (from this checkout's src/)
    python scripts/cli_docs.py --check   # exit 1 if docs/cli.md differs from the live help

tests/test_docs.py fails when docs/cli.md drifts from the help, so regenerate after changing a command or option.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from typer.cli import get_docs_for_click
from typer.main import get_command

ROOT = Path(__file__).resolve().parents[1]
CLI_MD = ROOT / "docs" / "cli.md"
sys.path.insert(0, str(ROOT / "src"))  # this checkout's samiksha, whatever is installed
HEADER = ("<!-- Generated from the live help by scripts/cli_docs.py: do not edit by hand. "
          "Regenerate: python scripts/cli_docs.py -->\n\n")


def render() -> str:
    """docs/cli.md as the installed CLI describes itself."""
    from samiksha.cli import app

    command = get_command(app)
    with typer.Context(command, info_name="samiksha") as ctx:
        docs = get_docs_for_click(obj=command, ctx=ctx, name="samiksha", title="Command reference: `samiksha`")
    return HEADER + docs.strip() + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if CLI_MD.exists() and CLI_MD.read_text(encoding="utf-8") == text:
            return 0
        print(f"{CLI_MD} is out of date: run `python scripts/cli_docs.py`", file=sys.stderr)
        return 1
    CLI_MD.write_text(text, encoding="utf-8")
    print(f"wrote {CLI_MD}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
