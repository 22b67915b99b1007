"""docs/reference.md from the CLI's own `--help`, so the reference cannot drift from the code.

    python -m promptctl.cli.reference            # rewrite docs/reference.md
    python -m promptctl.cli.reference --check    # exit 1 if docs/reference.md is stale

tests/e2e/test_reference.py regenerates the text and compares it with the committed file.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = Path("docs") / "reference.md"
REGENERATE = "python -m promptctl.cli.reference"
# Click wraps help at the terminal's width (at most 80): pin it so every machine writes the
# same bytes.
_WIDTH = "80"

_HEADER = f"""# Command-line reference

<!-- Generated from `promptctl <command> --help` by `{REGENERATE}`.
     Do not edit by hand: change the command's help text and regenerate. -->

Every command and sub-command of `promptctl`, exactly as its `--help` prints it. Every command
takes `-h`/`--help`. Exit codes (every command): 0 success, 1 a gate failed, 2 usage or input
error, 3 could not complete, 130 interrupted; `--debug` (or `PROMPTCTL_DEBUG=1`) adds a
traceback to an error. For a guided tour see [getting-started.md](getting-started.md).
"""


def command_paths() -> list[tuple[str, ...]]:
    """Every visible command as its argv path: (), ("init",), ..., ("baseline", "update")."""
    import typer

    from promptctl.cli.app import app

    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        # `commands` keeps registration order, the order `promptctl --help` lists them in
        for name, sub in getattr(cmd, "commands", {}).items():
            if not getattr(sub, "hidden", False):
                yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app), ()))


def help_text(path: tuple[str, ...]) -> str:
    """What `promptctl PATH... --help` prints, at a fixed width."""
    from promptctl.cli import main

    out = io.StringIO()
    saved = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = _WIDTH
    try:
        with contextlib.redirect_stdout(out):
            code = main([*path, "--help"])
    finally:
        if saved is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved
    if code != 0:  # pragma: no cover - a broken command; the reference must not hide it
        raise RuntimeError(f"promptctl {' '.join(path)} --help exited {code}")
    return out.getvalue().rstrip() + "\n"


def _anchor(title: str) -> str:
    # GitHub's heading anchors: lower case, punctuation dropped, spaces -> '-'
    return "".join(c for c in title.lower() if c.isalnum() or c in " -_").replace(" ", "-")


def render() -> str:
    """The whole reference page."""
    paths = command_paths()
    titles = [" ".join(("promptctl", *p)) for p in paths]
    parts = [_HEADER.rstrip(), ""]
    parts += [
        f"{'  ' * max(len(p) - 1, 0)}- [`{t}`](#{_anchor(t)})"
        for p, t in zip(paths, titles, strict=True)
    ]
    for path, title in zip(paths, titles, strict=True):
        parts += ["", f"## {title}", "", "```text", help_text(path).rstrip(), "```"]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    check = "--check" in args
    rest = [a for a in args if a != "--check"]
    target = Path(rest[0]) if rest else DEFAULT_OUTPUT
    text = render()
    if check:
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != text:
            sys.stderr.write(f"{target} is out of date: run `{REGENERATE}`\n")
            return 1
        return 0
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    sys.stdout.write(f"wrote {target}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
