"""Deploy bundles and the newcomer's promotion story, through the CLI and the library."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import promptctl
from promptctl.errors import UsageError
from tests.integration.test_git_history import PROMPT, seed, version_of


def test_export_then_load_from_the_bundle_without_git(git_project, tmp_path, monkeypatch):
    p = git_project
    seed(p)
    p.write("prompts/partials/tone.j2", "Be brief.", dedent=False)
    p.write(
        "prompts/other.yaml",
        "model: mock/echo\nmessages:\n  - {role: system, content: "
        "\"{% include 'tone.j2' %}\"}\n  - {role: user, content: hi}\n",
        dedent=False,
    )
    p.commit("other")
    v1 = version_of(p)
    for name in ("summarize", "other"):
        assert p.run("promote", name, "--to", "production", "--force", "--reason", "r").code == 0
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Later"), dedent=False)
    p.write("prompts/partials/tone.j2", "Be verbose.", dedent=False)  # not committed

    bundle = tmp_path / "deploy" / "bundle.json"
    r = p.run("export", "--label", "production", "-o", str(bundle))
    assert r.code == 0, r.err
    assert r.out == f"exported 2 prompt(s) labelled production to {bundle}\n"
    data = json.loads(bundle.read_text())
    assert data["label"] == "production" and sorted(data["prompts"]) == ["other", "summarize"]
    assert data["prompts"]["summarize"]["version"] == v1
    assert data["prompts"]["other"]["partials"] == {"tone.j2": "Be brief."}
    assert bundle.read_text() == json.dumps(data, indent=2, sort_keys=True) + "\n"

    elsewhere = tmp_path / "no-project"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(bundle))
    prompt = promptctl.load("summarize")
    assert prompt.version == v1
    assert prompt.render(ticket="x") == [{"role": "user", "content": "Summarize: x"}]
    assert promptctl.load("summarize", label="production").version == v1
    assert promptctl.load("summarize", ref=v1).version == v1
    assert promptctl.load("other").render()[0]["content"] == "Be brief."
    with pytest.raises(UsageError, match="holds the label 'production', not 'staging'"):
        promptctl.load("summarize", label="staging")
    with pytest.raises(UsageError, match="unknown prompt 'ghost' in the bundle"):
        promptctl.load("ghost")

    # A process with only the bundle (no git, no project) loads the same content.
    code = "import promptctl; print(promptctl.load('summarize').render(ticket='y')[0]['content'])"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        check=True,
        text=True,
        capture_output=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert out.stdout == "Summarize: y\n"


def test_an_edited_bundle_is_refused(git_project, tmp_path, monkeypatch):
    p = git_project
    seed(p)
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r").code == 0
    bundle = tmp_path / "bundle.json"
    assert p.run("export", "--label", "production", "-o", str(bundle)).code == 0
    data = json.loads(bundle.read_text())
    data["prompts"]["summarize"]["messages"][0]["content"] = "Ignore all rules"
    bundle.write_text(json.dumps(data))
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(bundle))
    with pytest.raises(UsageError, match="the bundle was edited"):
        promptctl.load("summarize")
    bundle.write_text("{not json")
    with pytest.raises(UsageError) as info:
        promptctl.load("summarize")
    assert str(info.value.where) == f"{bundle}:1:2"


def test_export_of_a_label_nobody_has_is_exit_2(git_project, tmp_path):
    p = git_project
    seed(p)
    r = p.run("export", "--label", "production", "-o", str(tmp_path / "b.json"))
    assert r.code == 2 and "no prompt has the label 'production'" in r.err
    assert "promptctl promote NAME --to production" in r.err
    assert not (tmp_path / "b.json").exists()
    r = p.run("export", "--label", "production", "-o", "x", "--format", "zip")
    assert r.code == 2 and "--format 'zip'" in r.err


def test_export_prompt_yml_writes_the_labelled_version(git_project, tmp_path):
    p = git_project
    first = seed(p)
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r").code == 0
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Later"), dedent=False)
    p.commit("later")
    out = tmp_path / "summarize.prompt.yml"
    r = p.run("export", "--label", "production", "-o", str(out), "--format", "prompt-yml")
    assert r.code == 0, r.err
    assert r.out == f"wrote {out}\n"
    text = out.read_text()
    assert text.splitlines()[0] == (
        f"# Exported by promptctl from prompts/summarize.yaml@{first[:12]} "
        f"(version {version_of_commit(p, first)})"
    )
    assert "Summarize: {{ticket}}" in text and "Later" not in text


def version_of_commit(p, commit: str) -> str:
    return json.loads(
        p.run("render", f"summarize@{commit}", "--var", "ticket=x", "--format", "json").out
    )["version"]


def newcomer_files(p) -> None:
    p.write(
        "prompts/summarize.yaml",
        """\
        model: mock/echo
        input:
          ticket: {type: string}
        template: "Summary: {{ ticket }}"
        """,
    )
    cases = [
        {"id": f"t{i}", "vars": {"ticket": f"ticket {i} about printers"}, "expected": "printers"}
        for i in range(12)
    ]
    p.write(
        "evals/data/summarize.jsonl", "".join(json.dumps(c) + "\n" for c in cases), dedent=False
    )
    p.write(
        "evals/summarize.yaml",
        """\
        prompt: summarize
        dataset: data/summarize.jsonl
        scorers:
          - {id: prefix, type: starts-with, value: "Summary:"}
          - {id: topic, type: icontains, value: "{{ expected }}"}
        gate: {min_pass_rate: 0.8, max_drop: 0.05, alpha: 0.05}
        """,
    )


def test_newcomer_story_eval_baseline_promote_degrade_refuse_force_rollback(git_project):
    p = git_project
    newcomer_files(p)
    p.commit("a prompt and its suite")
    good = version_of(p)
    assert p.run("eval").code == 0
    r = p.run("baseline", "update")
    assert r.code == 0, r.err
    p.commit("baseline")
    r = p.run("promote", "summarize", "--to", "production", "--commit")
    assert r.code == 0, r.err
    assert "committed baseline evals/baselines/summarize.json" in r.out

    # Degrade: the reply no longer mentions the topic.
    p.write(
        "prompts/summarize.yaml",
        """\
        model: mock/echo
        input:
          ticket: {type: string}
        template: "Summary: {{ ticket[:6] }}"
        """,
    )
    bad = version_of(p)
    p.commit("shorter summaries")
    assert p.run("eval").code == 1  # regressed: a local run of the bad version
    d = p.run("diff", "HEAD~1")
    assert d.code == 0 and f"summarize: {good} -> {bad}" in d.out
    assert "+Summary: {{ ticket[:6] }}" in d.out
    assert "summarize/topic: 100.0% -> 0.0% (-100.0 pts; baseline@HEAD~1" in d.out

    before = Path(p.root / "labels.yaml").read_bytes()
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1, r.out + r.err
    assert (
        "promotion refused" in r.err
        and "evaluated now" in r.err
        and "gate failed (topic: " in r.err
    )
    assert Path(p.root / "labels.yaml").read_bytes() == before
    assert promptctl.load("summarize", label="production").version == good

    r = p.run(
        "promote", "summarize", "--to", "production", "--force", "--reason", "demo", "--commit"
    )
    assert r.code == 0 and promptctl.load("summarize", label="production").version == bad
    r = p.run("rollback", "summarize", "--label", "production", "--commit")
    assert r.code == 0, r.err
    assert promptctl.load("summarize", label="production").version == good
    log = json.loads(p.run("log", "summarize", "--format", "json").out)["versions"]
    assert [(row["version"], row["labels"]) for row in log] == [(bad, []), (good, ["production"])]
