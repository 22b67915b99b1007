"""rollout start|step|status|finish|abort and load(key=) in real temporary git repositories."""

from __future__ import annotations

import json

import pytest

import promptctl
from promptctl.labels import rollout, serving
from promptctl.labels import store as labels
from promptctl.project import config
from tests.integration.test_git_history import PROMPT, seed, version_of


def _evidence(p) -> str:
    """Evaluate the current prompt and commit its baseline: committed evidence of this version."""
    r = p.run("eval", "--update-baseline")
    assert r.code == 0, r.err
    p.commit("baseline")
    return version_of(p)


@pytest.fixture
def two_versions(git_project):
    """production serves v1; v2 is committed with passing evidence. Returns (p, v1, v2)."""
    p = git_project
    seed(p)
    v1 = _evidence(p)
    assert p.run("promote", "summarize", "--to", "production", "--commit").code == 0
    p.write("prompts/summarize.yaml", PROMPT.replace("0.2", "0.3"), dedent=False)
    p.commit("v2")
    v2 = _evidence(p)
    assert v1 != v2
    serving.clear()
    yield p, v1, v2
    serving.clear()


def entry(name: str = "summarize", label: str = "production") -> labels.LabelEntry:
    e = labels.read(config.load_project()).get(name, {}).get(label)
    assert e is not None
    return e


def test_start_step_finish_moves_keys_only_forward(two_versions):
    p, v1, v2 = two_versions
    r = p.run(
        "rollout",
        "start",
        "summarize",
        "--label",
        "production",
        "--to",
        v2,
        "--percent",
        "5",
        "--commit",
    )
    assert r.code == 0, r.err
    assert f"serves {v2} to 5% of keys ({v1} to the rest)" in r.out
    e = entry()
    assert e.version == v1 and e.rollout is not None
    assert (e.rollout.candidate, e.rollout.percent) == (v2, 5.0)
    keys = [f"user-{i}" for i in range(2000)]
    at5 = {k: promptctl.load("summarize", label="production", key=k) for k in keys}
    on5 = {k for k, pr in at5.items() if pr.variant == "candidate"}
    assert all(at5[k].version == v2 for k in on5)
    assert all(pr.version == v1 and pr.variant == "stable" for k, pr in at5.items() if k not in on5)
    assert 40 <= len(on5) <= 170  # 5 % of 2000 = 100
    r = p.run(
        "rollout", "step", "summarize", "--label", "production", "--percent", "25", "--commit"
    )
    assert r.code == 0, r.err
    at25 = {k: promptctl.load("summarize", label="production", key=k).variant for k in keys}
    assert all(at25[k] == "candidate" for k in on5)  # nobody on the candidate moves back
    assert 400 <= sum(v == "candidate" for v in at25.values()) <= 600
    # No key: the stable arm, always.
    assert promptctl.load("summarize", label="production").version == v1
    r = p.run("rollout", "finish", "summarize", "--label", "production", "--commit")
    assert r.code == 0, r.err
    assert f"rollout finished: summarize production {v1} -> {v2}" in r.out
    e = entry()
    assert (e.version, e.previous, e.rollout) == (v2, v1, None)
    assert promptctl.load("summarize", label="production", key="user-1").version == v2
    assert "rollout finish summarize production" in p.git("log", "-1", "--format=%s")


def test_labels_yaml_keeps_one_line_per_label_and_reads_back(two_versions):
    p, _v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "5")
    p.run("rollout", "step", "summarize", "--label", "production", "--percent", "12.5")
    text = p.read("labels.yaml")
    line = next(x for x in text.splitlines() if x.startswith("  production:"))
    assert f"rollout: {{candidate: {v2}," in line and "percent: 12.5" in line
    assert "steps: [{percent: 5, at: " in line
    assert labels.dumps(labels.read(config.load_project())) == text  # stable bytes


def test_status_lists_rollouts_as_text_and_json(two_versions):
    p, v1, v2 = two_versions
    assert p.run("rollout", "status").out == "no rollout in progress\n"
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "5")
    r = p.run("rollout", "status", "--format", "json")
    assert r.code == 0
    [row] = json.loads(r.out)
    assert (row["name"], row["stable"], row["candidate"], row["percent"]) == (
        "summarize",
        v1,
        v2,
        5.0,
    )
    assert "5%" in p.run("rollout", "status").out


def test_abort_serves_stable_to_everyone(two_versions):
    p, v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "50")
    assert p.run("rollout", "abort", "summarize", "--label", "production").code == 0
    assert entry().rollout is None
    assert {
        promptctl.load("summarize", label="production", key=str(i)).version for i in range(50)
    } == {v1}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["start", "--to", "V2", "--percent", "0"], "between 1 and 100"),
        (["start", "--to", "V2", "--percent", "101"], "between 1 and 100"),
        (["start", "--to", "V1", "--percent", "5"], "already serves"),
        (["step", "--percent", "25"], "has no rollout in progress"),
        (["finish"], "has no rollout in progress"),
        (["abort"], "has no rollout in progress"),
    ],
)
def test_bad_rollout_commands_exit_2_and_leave_labels_untouched(two_versions, argv, message):
    p, v1, v2 = two_versions
    argv = [a.replace("V1", v1).replace("V2", v2) for a in argv]
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollout", argv[0], "summarize", "--label", "production", *argv[1:])
    assert r.code == 2, r.err
    assert message in r.err and "Traceback" not in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_a_lower_percent_and_a_label_without_version_are_refused(two_versions):
    p, _v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "25")
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollout", "step", "summarize", "--label", "production", "--percent", "5")
    assert r.code == 2 and "lower than the current step (25%)" in r.err
    r = p.run("rollout", "start", "summarize", "--label", "canary", "--to", v2, "--percent", "5")
    assert r.code == 2 and "has no label 'canary'" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_a_candidate_without_passing_evidence_is_refused(two_versions):
    p, _v1, _v2 = two_versions
    p.write("prompts/summarize.yaml", PROMPT.replace("0.2", "0.9"), dedent=False)
    p.commit("v3, never evaluated")
    v3 = version_of(p)
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run(
        "rollout", "start", "summarize", "--label", "production", "--to", v3, "--percent", "5"
    )
    assert r.code == 1, r.err
    assert "rollout start refused" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_key_must_be_a_string(two_versions):
    with pytest.raises(promptctl.errors.UsageError, match="key must be a string"):
        promptctl.load("summarize", label="production", key=42)  # type: ignore[arg-type]


def test_load_from_a_bundle_serves_the_same_arms(two_versions, monkeypatch):
    p, v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "30")
    keys = [f"k{i}" for i in range(300)]
    from_git = {k: promptctl.load("summarize", label="production", key=k).version for k in keys}
    assert p.run("export", "--label", "production", "-o", "bundle.json").code == 0
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(p.root / "bundle.json"))
    serving.clear()
    from_bundle = {k: promptctl.load("summarize", label="production", key=k).version for k in keys}
    assert from_bundle == from_git
    assert set(from_git.values()) == {v1, v2}


@pytest.mark.parametrize("percent", [500, -5, 0, True])
def test_a_bundle_whose_rollout_percent_was_edited_is_refused(two_versions, monkeypatch, percent):
    """labels.yaml refuses a percent outside (0, 100]; so does a bundle: 500 would send every
    key to the candidate, -5 none."""
    import json

    p, _v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "30")
    assert p.run("export", "--label", "production", "-o", "bundle.json").code == 0
    bundle = json.loads((p.root / "bundle.json").read_text())
    bundle["prompts"]["summarize"]["rollout"]["percent"] = percent
    (p.root / "bundle.json").write_text(json.dumps(bundle))
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(p.root / "bundle.json"))
    serving.clear()
    with pytest.raises(promptctl.errors.UsageError, match="malformed rollout"):
        promptctl.load("summarize", label="production", key="k1")


def test_trace_attributes_name_prompt_version_label_and_arm(two_versions):
    _p, _v1, v2 = two_versions
    _p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "100")
    prompt = promptctl.load("summarize", label="production", key="anyone")
    assert prompt.trace_attributes() == {
        "gen_ai.prompt.name": "summarize",
        "gen_ai.prompt.version": v2,
        "promptctl.label": "production",
        "promptctl.variant": "candidate",
    }
    assert prompt.bucket == rollout.bucket(
        "summarize", "production", entry().rollout.salt, "anyone"
    )


def test_hand_edited_rollout_block_is_a_lint_error_with_location(two_versions):
    p, _v1, v2 = two_versions
    p.run("rollout", "start", "summarize", "--label", "production", "--to", v2, "--percent", "5")
    text = p.read("labels.yaml").replace("percent: 5,", "percent: 500,", 1)
    p.write("labels.yaml", text, dedent=False)
    r = p.run("lint")
    assert r.code == 1
    assert "labels.yaml:" in r.out + r.err and "percent must be in (0, 100]" in r.out + r.err
