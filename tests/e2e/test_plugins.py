"""A plug-in distribution (a provider and a scorer), really installed, used end to end.

The distribution is a package plus a `*.dist-info` (METADATA, entry_points.txt) in a site
directory of its own, put on a subprocess's path: exactly what `pip install` leaves behind, so
importlib.metadata finds its entry points as it would in a user's environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""promptctl-shout: a provider that shouts and a scorer that listens for it."""

from dataclasses import dataclass
from typing import Any

from promptctl.model import Score
from promptctl.providers.base import Completion, LocalProvider


class Shout(LocalProvider):
    def __init__(self, settings):
        self.settings = settings

    async def complete_local(self, request):
        text = request.messages[-1]["content"].upper() + "!"
        return Completion(text=text, model=request.model, input_tokens=3, output_tokens=2)


@dataclass(frozen=True)
class Loud:
    spec: Any

    @classmethod
    def from_spec(cls, spec, ctx):
        return cls(spec)

    async def score(self, reply, case, *, repeat=0):
        loud = reply.text.endswith("!") and reply.text == reply.text.upper()
        return Score(value=float(loud), passed=loud, reason=f"loud: {loud}")
'''

ENTRY_POINTS = """\
[promptctl.providers]
shout = promptctl_shout:Shout

[promptctl.scorers]
loud = promptctl_shout:Loud
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site directory holding the installed distribution promptctl-shout 0.1."""
    site = tmp_path / "site"
    (site / "promptctl_shout").mkdir(parents=True)
    (site / "promptctl_shout" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "promptctl_shout-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: promptctl-shout\nVersion: 0.1\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(ENTRY_POINTS, encoding="utf-8")
    (info / "top_level.txt").write_text("promptctl_shout\n", encoding="utf-8")
    return site


def write_project(root: Path) -> None:
    files = {
        "promptctl.yaml": "providers:\n  loudly: {type: shout}\n",
        "prompts/greet.yaml": """\
            model: loudly/v1
            params: {volume: 11}
            input: {who: {type: string}}
            template: "hello {{ who }}"
        """,
        "evals/greet.yaml": """\
            prompt: greet
            cases:
              - {id: ada, vars: {who: ada}}
              - {id: bob, vars: {who: bob}}
            scorers:
              - {id: loud, type: loud}
              - {id: quiet, type: not-loud}
            gate: {min_pass_rate: 0.0}
        """,
    }
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def promptctl(root: Path, site: Path | None, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "GITHUB_"))}
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return subprocess.run(
        [sys.executable, "-m", "promptctl", *argv],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_installed_plugin_provider_and_scorer_work_from_config_and_suite(
    tmp_path: Path, site: Path
) -> None:
    root = tmp_path / "proj"
    write_project(root)

    lint = promptctl(root, site, "lint", "--format", "json")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert json.loads(lint.stdout) == []  # no PC301, PC105 or PC110

    run = promptctl(root, site, "eval", "greet", "--format", "json")
    assert run.returncode == 0, run.stdout + run.stderr
    (run_dir,) = (root / ".promptctl" / "runs").iterdir()
    lines = [json.loads(x) for x in (run_dir / "results.jsonl").read_text().splitlines()]
    by_case = {line["case_id"]: line for line in lines}
    assert by_case["ada"]["output"] == "HELLO ADA!"
    assert by_case["bob"]["output"] == "HELLO BOB!"
    assert by_case["ada"]["scores"]["loud"]["passed"] is True
    assert by_case["ada"]["scores"]["loud"]["reason"] == "loud: True"
    assert by_case["ada"]["scores"]["quiet"]["passed"] is False


def test_without_the_distribution_the_type_is_unknown_at_its_line(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    write_project(root)
    lint = promptctl(root, None, "lint")
    assert lint.returncode == 1
    out = lint.stdout
    assert (
        "promptctl.yaml:2:18: error: PC301 [bad-provider-config] provider 'loudly': unknown "
        "type 'shout'\n  hint: use one of: anthropic, mock, openai, or install the "
        "distribution that provides it\n"
    ) in out
    assert "evals/greet.yaml:6:22: error: PC206 [unknown-scorer] unknown scorer type 'loud'" in out
    assert "entry-point group 'promptctl.scorers'" in out


def test_a_plugin_that_does_not_import_is_a_usage_error_naming_its_distribution(
    tmp_path: Path, site: Path
) -> None:
    (site / "promptctl_shout" / "__init__.py").write_text("import no_such_module\n")
    root = tmp_path / "proj"
    write_project(root)
    run = promptctl(root, site, "eval", "greet")
    assert run.returncode == 2, run.stdout + run.stderr
    assert (
        "scorer type 'loud' (promptctl_shout:Loud, from the installed distribution "
        "'promptctl-shout') could not be loaded: ModuleNotFoundError: No module named "
        "'no_such_module'\n  hint: reinstall or upgrade that distribution" in run.stderr
    )
    assert "Traceback" not in run.stderr
