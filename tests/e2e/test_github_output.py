"""GitHub-native output of eval and merge when GITHUB_ACTIONS=true: annotations on stderr pointing
at the prompt file, the markdown report appended to $GITHUB_STEP_SUMMARY, stdout left clean
(valid JSON with --format json), and model/dataset text unable to pose as workflow commands."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from promptctl import escaping
from promptctl.reporters import github
from tests.conftest import FAKE_KEY

CASES = [
    ("France", "Paris"),
    ("Italy", "Rome"),
    ("Spain", "Madrid"),
    ("Peru", "Lima"),
    ("Japan", "Tokyo"),
    ("Egypt", "Cairo"),
    ("Chile", "Santiago"),
    ("Kenya", "Nairobi"),
    ("Norway", "Oslo"),
    ("Cuba", "Havana"),
    ("Ghana", "Accra"),
    ("Nepal", "Kathmandu"),
    ("Laos", "Vientiane"),
    ("Oman", "Muscat"),
    ("Syria", "Damascus"),
    ("Niger", "Niamey"),
]
HEAD = "model: mock/echo\ninput: {country: {type: string}, capital: {type: string}}\n"
GOOD = HEAD + 'template: "The capital of {{ country }} is {{ capital }}."\n'
DEGRADED = HEAD + (
    'template: "The capital of {{ country }} is '
    '{% if capital|length < 6 %}{{ capital }}{% else %}unknown{% endif %}."\n'
)
SUITE = (
    "prompt: capitals\ndataset: data/capitals.jsonl\n"
    'scorers:\n  - {id: names-capital, type: contains, value: "{{ expected }}"}\n'
)


@pytest.fixture
def regressed(git_project: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    p = git_project
    p.write("prompts/capitals.yaml", GOOD)
    p.write("evals/capitals.yaml", SUITE)
    p.write(
        "evals/data/capitals.jsonl",
        "".join(
            json.dumps({"id": f"c-{i:02d}", "vars": {"country": c, "capital": k}, "expected": k})
            + "\n"
            for i, (c, k) in enumerate(CASES)
        ),
    )
    assert p.run("eval", "--quiet").code == 0
    assert p.run("baseline", "update").code == 0
    p.write("prompts/capitals.yaml", DEGRADED)
    return p


def _in_actions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    summary = tmp_path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    return summary


def test_regression_is_annotated_on_the_prompt_and_summarised(
    regressed: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = _in_actions(monkeypatch, tmp_path)
    r = regressed.run("eval", "--format", "json")
    assert r.code == 1
    doc = json.loads(r.out)  # stdout is pure JSON: annotations went to stderr
    assert doc["suites"][0]["gate"]["verdict"] == "regressed"
    notes = [line for line in r.err.splitlines() if line.startswith("::")]
    assert len(notes) == 1, r.err
    head, _, message = notes[0][2:].partition("::")
    assert head == (
        "error file=prompts/capitals.yaml,line=3,"
        "title=promptctl%3A capitals/names-capital regressed"
    )
    assert message == (
        "capitals/names-capital: pass rate fell 56.2%25 (> max_drop 5.0%25), "
        "significant: p=0.00195 < alpha 0.05; pass->fail: c-02, c-06, c-07, "
        "c-09, c-11, c-12, c-13, c-14, c-15"
    )
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## promptctl eval: failed\n")  # appended, not replaced
    assert "**Gate: ❌ regressed**" in text
    assert re.search(r"\| `?names-capital`? \| REGRESSED \|", text)
    assert FAKE_KEY not in r.out + r.err + text


def test_merge_annotates_and_summarises_too(
    regressed: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    dirs = []
    for shard in ("1/2", "2/2"):
        r = regressed.run("eval", "--shard", shard, "--format", "json")
        dirs.append(json.loads(r.out)["suites"][0]["run_dir"])
    summary = _in_actions(monkeypatch, tmp_path)
    r = regressed.run("merge", *dirs)
    assert r.code == 1
    assert r.err.count("::error file=prompts/capitals.yaml,line=3,") == 1
    assert "## promptctl eval: failed" in summary.read_text(encoding="utf-8")


def test_nothing_github_outside_actions(
    regressed: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "untouched.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))  # set, but GITHUB_ACTIONS is not
    r = regressed.run("eval")
    assert r.code == 1
    assert "::" not in r.err and not summary.exists()


def test_a_passing_run_raises_no_annotation(
    git_project: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = _in_actions(monkeypatch, tmp_path)
    git_project.write("prompts/capitals.yaml", GOOD)
    git_project.write(
        "evals/capitals.yaml",
        "prompt: capitals\ncases:\n"
        "  - {id: a, vars: {country: Peru, capital: Lima}, expected: Lima}\n"
        "scorers: [{id: hit, type: contains, value: '{{ expected }}'}]\n",
    )
    r = git_project.run("eval")
    assert r.code == 0
    assert "::" not in r.err
    assert "## promptctl eval: passed" in summary.read_text(encoding="utf-8")


def test_dataset_text_cannot_pose_as_a_workflow_command(
    git_project: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _in_actions(monkeypatch, tmp_path)
    git_project.write(
        "prompts/p.yaml", "model: mock/echo\ninput: {t: {type: string}}\ntemplate: '{{ t }}'\n"
    )
    # A case id starts a worst-case line of the table; the runner trims leading blanks.
    git_project.write(
        "evals/s.yaml",
        "prompt: p\ncases:\n"
        "  - {id: '::warning file=a::spoofed', vars: {t: '##[error]legacy'},"
        " expected: nope}\n"
        "scorers: [{id: hit, type: equals, value: '{{ expected }}'}]\n",
    )
    r = git_project.run("eval")
    assert r.code == 0  # no baseline, no floor: the failing case is only reported
    assert ":\u200b:warning file=a::spoofed" in r.out  # shown, defanged
    for line in r.out.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line


def test_defang_keeps_text_readable_and_respects_line_starts() -> None:
    defang = escaping.defang_workflow_commands
    assert defang("a\n::error::x\n  ::y::z") == "a\n:\u200b:error::x\n  :\u200b:y::z"
    assert defang("::mid", at_line_start=False) == "::mid"
    assert defang("see ##[group]") == "see #\u200b#[group]"
    # the runner also splits lines at CR, and trims Unicode spaces before looking for "::"
    assert defang("ok\r::add-mask::v") == "ok\r:\u200b:add-mask::v"
    assert (
        defang("\u2003\u00a0\ufeff::stop-commands::t")
        == "\u2003\u00a0\ufeff:\u200b:stop-commands::t"
    )
    out = io.StringIO()
    stream = escaping.DefangingStream(out)
    stream.write("value ")
    stream.write("::not a command\n")
    stream.write("::error::x\n")
    # a command split over writes is caught too
    stream.write("  :")
    stream.write(":set-output name=x::y\n#")
    stream.write("#[error]z\n")
    assert out.getvalue() == (
        "value ::not a command\n:\u200b:error::x\n"
        "  :\u200b:set-output name=x::y\n#\u200b#[error]z\n"
    )
    assert escaping.undefanged(stream) is out  # where promptctl's own annotations go


def test_command_escapes_data_and_properties() -> None:
    line = github.command("error", "50% off\nnext", file="a,b:c.yaml", line=4, title="t: x")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=4,title=t%3A x::50%25 off%0Anext"


def test_step_summary_is_cut_to_githubs_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptctl.reporters import markdown

    monkeypatch.setattr(markdown, "render_markdown", lambda result: "row\n" * 400_000)
    text = github.step_summary(None)  # type: ignore[arg-type]
    assert len(text.encode()) <= github.SUMMARY_LIMIT_BYTES
    assert text.endswith("limit; the full report is in the run directory)_\n")
