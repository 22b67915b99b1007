"""Promotion evidence is a verdict recorded in a committed baseline, the same in every clone;
rollback and --commit refuse before writing (issue 14 §5, §6)."""

from __future__ import annotations

import json
import subprocess

from promptctl.labels import store as labels
from promptctl.project import config
from tests.integration.test_git_history import (
    FAILING_SUITE,
    PROMPT,
    baseline_text,
    seed,
    version_of,
)

BASELINE = "evals/baselines/summarize.json"


def _entry(label: str = "production") -> labels.LabelEntry | None:
    return labels.read(config.load_project()).get("summarize", {}).get(label)


def test_a_failing_run_is_refused_as_a_baseline_and_nothing_is_written(git_project) -> None:
    p = git_project
    seed(p, suite=FAILING_SUITE)
    assert p.run("eval", "summarize").code == 1
    r = p.run("baseline", "update", "summarize")
    assert r.code == 1
    assert "failed its gate (failed" in r.err and "nothing was written" in r.err
    assert "--accept-failing --reason TEXT" in r.err
    assert not (p.root / BASELINE).exists()
    r = p.run("eval", "summarize", "--update-baseline", "--junit", "j.xml", "--html", "r.html")
    assert r.code == 1 and "failed its gate" in r.err
    assert not (p.root / BASELINE).exists()
    # refused as a baseline, still reported: CI keeps its JUnit and HTML of the failing run
    assert "summarize: FAILED" in r.out
    assert (p.root / "j.xml").is_file() and (p.root / "r.html").is_file()
    assert p.run("baseline", "update", "summarize", "--accept-failing").code == 2  # no reason


def test_an_accepted_failing_baseline_records_why_and_never_promotes(
    git_project, tmp_path, monkeypatch
) -> None:
    p = git_project
    seed(p, suite=FAILING_SUITE)
    assert p.run("eval", "summarize").code == 1
    r = p.run("baseline", "update", "summarize", "--accept-failing", "--reason", "known gap")
    assert r.code == 0, r.err
    assert "verdict failed" in r.out
    evidence = json.loads((p.root / BASELINE).read_text())["evidence"]
    assert evidence["verdict"] == "failed" and evidence["accepted_failing"] == "known gap"
    assert evidence["failures"]
    p.commit("record the failing baseline")
    before = (p.root / "labels.yaml").exists()
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1
    assert "with verdict failed, accepted failing: known gap" in r.err
    assert (p.root / "labels.yaml").exists() == before

    # A fresh clone (no .promptctl/) gives the same answer.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(p.root), str(clone)], check=True)
    monkeypatch.chdir(clone)
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1 and "with verdict failed" in r.err
    assert not (clone / "labels.yaml").exists()


def test_a_passing_baseline_promotes_in_a_fresh_clone_and_records_its_floors(
    git_project, tmp_path, monkeypatch
) -> None:
    p = git_project
    seed(p)
    assert p.run("eval", "summarize").code == 0
    r = p.run("baseline", "update", "summarize")
    assert r.code == 0 and "verdict passed" in r.out
    evidence = json.loads((p.root / BASELINE).read_text())["evidence"]
    assert evidence == {"floors": {"min_pass_rate": 0.9}, "verdict": "passed"}
    p.commit("baseline")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(p.root), str(clone)], check=True)
    monkeypatch.chdir(clone)
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 0, r.err
    assert "verdict passed" in r.out and "evaluating" not in r.err


def test_a_baseline_without_a_verdict_is_no_evidence_and_says_to_re_record(git_project) -> None:
    p = git_project
    seed(p)
    p.write(BASELINE, baseline_text(version_of(p), {"has": [1, 1]}, verdict=None), dedent=False)
    p.commit("an old baseline")
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1
    assert "no verdict (written by an older promptctl)" in r.err
    assert "promptctl eval summarize && promptctl baseline update summarize" in r.err
    assert not (p.root / "labels.yaml").exists()


def _promote_forced(p, reason: str) -> None:  # type: ignore[no-untyped-def]
    cmd = ("promote", "summarize", "--to", "production", "--force", "--reason", reason, "--commit")
    assert p.run(*cmd).code == 0


def test_rollback_records_its_reason_and_a_second_one_does_not_redeploy(git_project) -> None:
    p = git_project
    seed(p)
    v1 = version_of(p)
    _promote_forced(p, "v1")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    p.commit("v2")
    v2 = version_of(p)
    _promote_forced(p, "v2")
    r = p.run(
        "rollback",
        "summarize",
        "--label",
        "production",
        "--reason",
        "refunds misrouted",
        "--commit",
    )
    assert r.code == 0, r.err
    assert _entry().reason == f"rollback from {v2}: refunds misrouted"
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollback", "summarize", "--label", "production", "--commit")
    assert r.code == 2
    assert f"was rolled back from {v2} to {v1}; rolling back again would re-deploy {v2}" in r.err
    assert f"newest first: {v1}, {v2}" in r.err and "--to VERSION" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before
    r = p.run("rollback", "summarize", "--label", "production", "--to", v2)
    assert r.code == 0 and _entry().version == v2


def test_commit_without_a_git_identity_is_exit_2_with_labels_untouched(
    git_project, monkeypatch
) -> None:
    p = git_project
    seed(p)
    _promote_forced(p, "first")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    p.commit("v2")
    _promote_forced(p, "second")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "S"), dedent=False)
    p.commit("v3")
    before = (p.root / "labels.yaml").read_bytes()
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.delenv(f"GIT_{who}_NAME")
        monkeypatch.delenv(f"GIT_{who}_EMAIL")
    monkeypatch.delenv("EMAIL", raising=False)
    p.git("config", "user.useConfigOnly", "true")  # never guess one from the host name
    for argv in (
        ("promote", "summarize", "--to", "production", "--force", "--reason", "r", "--commit"),
        ("rollback", "summarize", "--label", "production", "--commit"),
    ):
        r = p.run(*argv)
        assert r.code == 2, r.err
        assert "git has no identity to commit with" in r.err and "nothing was written" in r.err
        assert (p.root / "labels.yaml").read_bytes() == before
        assert p.git("status", "--porcelain", "--", "labels.yaml") == ""
