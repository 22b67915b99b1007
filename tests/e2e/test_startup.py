"""Start-up stays light: heavy modules load only when a command needs them (timing: benchmarks/)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("httpx", "jinja2", "jsonschema", "git", "rich", "sqlite3", "asyncio", "yaml")


def loaded_after(code: str) -> set[str]:
    script = f"""
import io, json, sys, contextlib
with contextlib.redirect_stdout(io.StringIO()):
{code}
print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_version_loads_nothing_heavy_not_even_typer() -> None:
    mods = loaded_after("    from promptctl.cli import main; main(['--version'])")
    assert not mods & {*HEAVY, "typer"}, mods & {*HEAVY, "typer"}


def test_import_promptctl_loads_neither_typer_nor_rich() -> None:
    mods = loaded_after("    import promptctl")
    assert not mods & {"typer", "rich", "yaml", "jinja2"}


@pytest.mark.parametrize(
    "argv", [["--help"], ["render", "--help"], ["eval", "--help"], ["lint", "--help"]]
)
def test_help_loads_no_heavy_module(argv: list[str]) -> None:
    mods = loaded_after(f"    from promptctl.cli import main; main({argv!r})")
    assert ("typer" in mods) is (argv != ["--help"])  # the top-level help is served statically
    assert not mods & set(HEAVY), mods & set(HEAVY)


def test_console_script_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "promptctl", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.startswith("promptctl 0.")


def test_static_top_level_help_is_what_typer_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptctl.cli import tophelp

    monkeypatch.setenv("COLUMNS", "80")
    assert tophelp.generate() == tophelp.TEXT, "run: python -m promptctl.cli.tophelp"


def test_help_does_not_build_the_commands() -> None:
    mods = loaded_after("    from promptctl.cli import main; main(['--help'])")
    assert "typer" not in mods
    assert not {m for m in mods if m.startswith("promptctl.cli.") and m != "promptctl.cli"} - {
        "promptctl.cli.tophelp"
    }
