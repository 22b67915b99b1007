"""Start-up stays light: heavy modules load only when a command needs them (timing: benchmarks/)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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


def test_an_eval_of_plain_inputs_outside_git_loads_no_schema_or_git_library(
    tmp_path: Path,
) -> None:
    # Issue 18: jsonschema (with referencing and attrs) and GitPython took ~65 ms of a 1000-case
    # eval's CPU. Plain `{type: string}` inputs are checked without jsonschema, and with no .git
    # (nor HEAD) from the project up to / the project is outside git without asking GitPython.
    from promptctl.history import gitrepo

    (tmp_path / "prompts").mkdir()
    (tmp_path / "evals").mkdir()
    (tmp_path / "prompts" / "p.yaml").write_text(
        "model: mock/echo\ninput: {t: {type: string}}\ntemplate: 'Echo: {{ t }}'\n"
    )
    (tmp_path / "evals" / "s.yaml").write_text(
        "prompt: p\ncases: [{id: a, vars: {t: x}}, {id: b, vars: {t: y}}]\n"
        "scorers: [{id: r, type: regex, value: 'Echo'}]\n"
    )
    mods = loaded_after(
        f"    import os; os.chdir({str(tmp_path)!r})\n"
        "    from promptctl.cli import main; assert main(['eval', '--quiet']) == 0"
    )
    unwanted = {"jsonschema", "referencing"}
    if gitrepo._surely_outside_git(str(tmp_path)):  # a temp dir inside a checkout: not this case
        unwanted.add("git")
    assert not mods & unwanted, mods & unwanted
