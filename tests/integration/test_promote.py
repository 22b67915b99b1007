"""promote and rollback in real temporary git repositories."""

from __future__ import annotations

import os
import subprocess
import sys

from promptctl.labels import store as labels
from promptctl.project import config, yamlio
from tests.integration.test_git_history import (
    FAILING_SUITE,
    PROMPT,
    baseline_text,
    seed,
    version_of,
)


def entry(p, label: str = "production", name: str = "summarize") -> labels.LabelEntry | None:
    return labels.read(config.load_project()).get(name, {}).get(label)


def test_without_evidence_suites_run_now_and_a_failing_gate_refuses(git_project):
    p = git_project
    seed(p, suite=FAILING_SUITE)
    p.write(
        "labels.yaml", "# hand-kept\nsummarize:\n  staging: {version: 0123456789ab}\n", dedent=False
    )
    p.commit("labels")
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1
    assert r.out == ""
    assert "evaluating summarize now" in r.err
    assert "promotion refused: summarize production stays at (unset)" in r.err
    assert f"version {version_of(p)} has no passing gate" in r.err
    assert "gate failed" in r.err and "--force --reason" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before
    # A local run is no evidence (another clone does not have it): the suites run again.
    again = p.run("promote", "summarize", "--to", "production")
    assert again.code == 1 and "evaluating summarize now" in again.err


def test_without_evidence_passing_suites_run_now_promote(git_project):
    p = git_project
    seed(p)
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 0, r.err
    assert f"evidence: suites evaluated now at version {version_of(p)}: summarize new" in r.out
    assert entry(p).version == version_of(p)


def test_promote_without_any_suite_is_refused(git_project):
    p = git_project
    p.write("prompts/lonely.yaml", "model: mock/echo\ntemplate: hi\n", dedent=False)
    p.commit()
    r = p.run("promote", "lonely", "--to", "production")
    assert r.code == 1 and "no suite evaluates 'lonely'" in r.err
    assert not (p.root / "labels.yaml").exists()


def test_promote_with_a_committed_baseline_of_this_version(git_project):
    p = git_project
    head = seed(p)
    v = version_of(p)
    p.write("evals/baselines/summarize.json", baseline_text(v, {"has": [1, 1]}), dedent=False)
    head = p.commit("baseline")
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 0, r.err
    assert r.out.startswith(f"promoted summarize production: (unset) -> {v}\n")
    assert "committed baseline evals/baselines/summarize.json" in r.out
    e = entry(p)
    assert e is not None
    assert (e.version, e.commit, e.reason, e.previous) == (v, head[:12], None, None)
    assert e.promoted_at is not None and e.promoted_at.endswith("Z")


def test_a_baseline_of_another_version_is_no_evidence(git_project):
    p = git_project
    seed(p, suite=FAILING_SUITE)
    p.write(
        "evals/baselines/summarize.json", baseline_text("0123456789ab", {"has": [1]}), dedent=False
    )
    p.commit("baseline of an older version")
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1 and "evaluating summarize now" in r.err and "gate failed" in r.err


def test_an_uncommitted_baseline_is_no_evidence(git_project):
    p = git_project
    seed(p, suite=FAILING_SUITE)
    p.write(
        "evals/baselines/summarize.json",
        baseline_text(version_of(p), {"summary": [1]}),
        dedent=False,
    )
    r = p.run("promote", "summarize", "--to", "production")
    assert r.code == 1 and "evaluating summarize now" in r.err


def test_forced_promote_records_the_reason_and_needs_one(git_project):
    p = git_project
    seed(p)
    r = p.run("promote", "summarize", "--to", "production", "--force")
    assert r.code == 2 and "--force needs --reason" in r.err
    assert not (p.root / "labels.yaml").exists()
    r = p.run(
        "promote",
        "summarize",
        "--to",
        "production",
        "--force",
        "--reason",
        "incident 42: roll forward",
    )
    assert r.code == 0, r.err
    assert "evidence: forced: incident 42: roll forward" in r.out
    assert entry(p).reason == "incident 42: roll forward"
    assert 'reason: "incident 42: roll forward"' in p.read("labels.yaml")


def test_promoting_the_version_a_label_has_is_a_no_op(git_project):
    p = git_project
    seed(p)
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r").code == 0
    before = (p.root / "labels.yaml").read_bytes()
    mtime = os.stat(p.root / "labels.yaml").st_mtime_ns
    r = p.run("promote", "summarize", "--to", "production")  # no evidence needed: nothing moves
    assert r.code == 0
    assert r.out == f"summarize production is already {version_of(p)}; nothing to do\n"
    assert (p.root / "labels.yaml").read_bytes() == before
    assert os.stat(p.root / "labels.yaml").st_mtime_ns == mtime


def test_promote_with_commit_names_prompt_label_versions_and_evidence(git_project):
    p = git_project
    seed(p)
    v1 = version_of(p)
    assert (
        p.run(
            "promote", "summarize", "--to", "production", "--force", "--reason", "first", "--commit"
        ).code
        == 0
    )
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    v2 = version_of(p)
    p.write("evals/baselines/summarize.json", baseline_text(v2, {"has": [1]}), dedent=False)
    p.commit("v2 and its baseline")
    r = p.run("promote", "summarize", "--to", "production", "--commit")
    assert r.code == 0, r.err
    message = p.git("log", "-1", "--format=%B").strip()
    assert message.splitlines()[0] == f"promote summarize production: {v1} -> {v2}"
    assert "Evidence: committed baseline evals/baselines/summarize.json" in message
    assert p.git("status", "--porcelain").strip() == ""
    assert p.git("log", "-1", "--format=%H").strip().startswith(r.out.split(" as ")[1].strip())
    first = p.git("log", "-1", "--skip=2", "--format=%B", "--", "labels.yaml")
    assert first == ""  # exactly two commits touched labels.yaml
    forced = p.git("log", "-1", "--skip=1", "--format=%B", "--", "labels.yaml")
    assert "Evidence: forced: first" in forced and "Reason: first" in forced


def test_commit_with_a_dirty_labels_yaml_is_refused_and_explained(git_project):
    p = git_project
    seed(p)
    assert p.run("promote", "summarize", "--to", "staging", "--force", "--reason", "r").code == 0
    before = (p.root / "labels.yaml").read_bytes()
    head = p.git("rev-parse", "HEAD")
    r = p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r", "--commit")
    assert r.code == 2
    assert "labels.yaml has uncommitted changes" in r.err and "commit or discard" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before
    assert p.git("rev-parse", "HEAD") == head


def test_uncommitted_prompt_version_cannot_be_labelled(git_project):
    p = git_project
    seed(p)
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Draft"), dedent=False)
    r = p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r")
    assert r.code == 2
    assert "is not committed" in r.err and "git add prompts/summarize.yaml" in r.err


def test_a_version_changed_only_by_a_partial_names_the_partial_to_commit(git_project):
    """The prompt file is unchanged (git has nothing to commit there): the hint names what
    changed, the partial."""
    p = git_project
    seed(p, prompt=PROMPT.replace("Summarize:", "{% include 'tone.j2' %} Summarize:"))
    p.write("prompts/partials/tone.j2", "Be brief.", dedent=False)
    p.commit("a partial")
    p.write("prompts/partials/tone.j2", "Be very brief.", dedent=False)
    r = p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r")
    assert r.code == 2, r.out + r.err
    assert "is not committed" in r.err and "git add prompts/partials/tone.j2" in r.err


def test_rollback_to_a_version_only_the_working_tree_has_is_exit_2(git_project):
    """A label must point at a committed version: `rollback --to` an uncommitted one would
    leave production loading nothing."""
    p = git_project
    seed(p)
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "r").code == 0
    p.commit("labels")
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Draft"), dedent=False)
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollback", "summarize", "--label", "production", "--to", version_of(p))
    assert r.code == 2, r.out + r.err
    assert "is not committed" in r.err and "git add prompts/summarize.yaml" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_promote_an_older_revision_and_another_label(git_project):
    p = git_project
    first = seed(p)
    v1 = version_of(p)
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    p.commit("v2")
    assert (
        p.run(
            "promote", f"summarize@{first[:7]}", "--to", "staging", "--force", "--reason", "r"
        ).code
        == 0
    )
    assert (entry(p, "staging").version, entry(p, "staging").commit) == (v1, first[:12])
    r = p.run("promote", "summarize@staging", "--to", "production", "--force", "--reason", "r")
    assert r.code == 0 and entry(p).version == v1


def test_unknown_prompt_or_revision_is_exit_2(git_project):
    p = git_project
    seed(p)
    r = p.run("promote", "sumarize", "--to", "production", "--force", "--reason", "r")
    assert r.code == 2 and "unknown prompt 'sumarize'" in r.err
    r = p.run("promote", "summarize@nope", "--to", "production", "--force", "--reason", "r")
    assert r.code == 2 and "'nope' is no label, version or git revision" in r.err
    r = p.run("rollback", "summarize", "--label", "canary")
    assert r.code == 2 and "has no label 'canary'" in r.err
    r = p.run("rollback", "ghost", "--label", "production")
    assert r.code == 2 and "unknown prompt 'ghost'" in r.err


def test_rollback_finds_the_previous_version_in_labels_history(git_project):
    p = git_project
    seed(p)
    v1 = version_of(p)
    assert (
        p.run(
            "promote", "summarize", "--to", "production", "--force", "--reason", "v1", "--commit"
        ).code
        == 0
    )
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    p.commit("v2")
    v2 = version_of(p)
    assert (
        p.run(
            "promote", "summarize", "--to", "production", "--force", "--reason", "v2", "--commit"
        ).code
        == 0
    )
    # A later hand-kept entry without `previous`: history alone must find v1.
    p.write("labels.yaml", p.read("labels.yaml").replace(f", previous: {v1}", ""), dedent=False)
    p.commit("drop previous")
    assert entry(p).previous is None
    r = p.run("rollback", "summarize", "--label", "production", "--commit")
    assert r.code == 0, r.err
    assert r.out.startswith(f"rolled back summarize production: {v2} -> {v1}\n")
    e = entry(p)
    assert (e.version, e.previous, e.reason) == (v1, v2, f"rollback from {v2}")
    assert p.git("log", "-1", "--format=%s").strip() == (
        f"rollback summarize production: {v2} -> {v1}"
    )
    r = p.run("rollback", "summarize", "--label", "production", "--to", v1)
    assert r.code == 0 and "already" in r.out
    r = p.run("rollback", "summarize", "--label", "production", "--to", v2)
    assert r.code == 0 and entry(p).version == v2


def test_rollback_of_an_uncommitted_promotion_uses_the_entry_previous(git_project):
    p = git_project
    seed(p)
    v1 = version_of(p)
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "a").code == 0
    p.write("prompts/summarize.yaml", PROMPT.replace("Summarize", "Sum"), dedent=False)
    p.commit("v2")
    assert p.run("promote", "summarize", "--to", "production", "--force", "--reason", "b").code == 0
    assert p.run("rollback", "summarize", "--label", "production").code == 0
    assert entry(p).version == v1


def test_rollback_without_a_previous_version_is_exit_2(git_project):
    p = git_project
    seed(p)
    assert (
        p.run(
            "promote", "summarize", "--to", "production", "--force", "--reason", "a", "--commit"
        ).code
        == 0
    )
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollback", "summarize", "--label", "production")
    assert r.code == 2 and "no previous version" in r.err and "--to VERSION" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_two_promote_processes_at_once_both_land(git_project):
    p = git_project
    seed(p)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    names = [f"canary-{i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "promptctl",
                "promote",
                "summarize",
                "--to",
                label,
                "--force",
                "--reason",
                f"parallel {label}",
            ],
            cwd=p.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label in names
    ]
    results = [(proc.wait(timeout=60), proc.stderr.read()) for proc in procs]
    for proc in procs:
        proc.stdout.close()
        proc.stderr.close()
    assert [code for code, _ in results] == [0] * len(names), results
    text = p.read("labels.yaml")
    data = yamlio.plain(yamlio.loads(text, "labels.yaml"))
    assert sorted(data["summarize"]) == names
    assert {v["reason"] for v in data["summarize"].values()} == {f"parallel {n}" for n in names}
    assert text == labels.dumps(labels.loads(text, "labels.yaml"))


def test_concurrent_committing_promotes_each_make_their_own_commit(git_project):
    p = git_project
    seed(p)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    names = ["blue", "green", "red"]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "promptctl",
                "promote",
                "summarize",
                "--to",
                label,
                "--force",
                "--reason",
                f"ship {label}",
                "--commit",
            ],
            cwd=p.root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for label in names
    ]
    results = [(proc.wait(timeout=60), proc.stderr.read()) for proc in procs]
    for proc in procs:
        proc.stdout.close()
        proc.stderr.close()
    assert [code for code, _ in results] == [0, 0, 0], results
    subjects = p.git("log", "--format=%s", "--", "labels.yaml").splitlines()
    assert sorted(subjects) == sorted(
        f"promote summarize {n}: (none) -> {version_of(p)}" for n in names
    )
    assert p.git("status", "--porcelain").strip() == ""
    assert sorted(labels.read(config.load_project())["summarize"]) == names
