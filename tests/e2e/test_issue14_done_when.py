"""Issue 14's "Done when", one test per line of it, through the CLI and the library."""

from __future__ import annotations

import json
import shutil
import subprocess

import promptctl
from tests.integration.test_git_history import FAILING_SUITE, seed, version_of

REPLY = (
    "model: mock/echo\ninput: {who: {type: string}}\n"
    "messages:\n  - {role: system, content: \"{% include 'sign.j2' %}\"}\n"
    "  - {role: user, content: '{{ who }}'}\n"
)
REPLY_SUITE = (
    "prompt: reply\ncases: [{id: a, vars: {who: Ann}}]\n"
    "scorers: [{id: named, type: contains, value: Ann}]\ngate: {min_pass_rate: 1.0}\n"
)


def test_a_partial_edit_is_a_new_version_that_needs_evidence_while_the_label_serves_the_old(
    git_project,
) -> None:
    p = git_project
    p.write("prompts/reply.yaml", REPLY, dedent=False)
    p.write("prompts/other.yaml", REPLY.replace("{{ who }}", "hi {{ who }}"), dedent=False)
    p.write("prompts/partials/sign.j2", "Signed, the team", dedent=False)
    p.write("evals/reply.yaml", REPLY_SUITE, dedent=False)
    p.commit("reply")
    assert p.run("eval", "reply").code == 0
    assert p.run("baseline", "update", "reply").code == 0
    p.commit("baseline")
    assert p.run("promote", "reply", "--to", "production", "--commit").code == 0
    old = {n: version_of(p, n) for n in ("reply", "other")}

    p.write("prompts/partials/sign.j2", "Signed, nobody", dedent=False)
    p.commit("partial only")
    assert all(version_of(p, n) != old[n] for n in old)  # every prompt including it
    served = promptctl.load("reply", label="production", root=p.root)  # until promoted:
    assert served.version == old["reply"]  # the labelled commit's bytes
    assert served.render(who="x")[0]["content"] == "Signed, the team"
    r = p.run("promote", "reply", "--to", "production")
    assert "nothing to do" not in r.out + r.err
    assert "evaluating reply now" in r.err  # the committed baseline is of the old version
    assert r.code == 0, r.err
    served = promptctl.load("reply", label="production", root=p.root)
    assert served.version == version_of(p, "reply")
    assert served.render(who="x")[0]["content"] == "Signed, nobody"


def test_a_failing_baseline_never_promotes_in_any_clone(git_project, tmp_path, monkeypatch):
    p = git_project
    seed(p, suite=FAILING_SUITE)
    assert p.run("eval", "summarize").code == 1
    assert p.run("baseline", "update", "summarize").code == 1  # refused: nothing written
    reason = ("--accept-failing", "--reason", "ship it anyway")
    assert p.run("baseline", "update", "summarize", *reason).code == 0
    p.commit("failing baseline")
    assert p.run("promote", "summarize", "--to", "production").code == 1
    for clone in (tmp_path / "c1", tmp_path / "c2"):
        subprocess.run(["git", "clone", "-q", str(p.root), str(clone)], check=True)
        monkeypatch.chdir(clone)
        r = p.run("promote", "summarize", "--to", "production")
        assert r.code == 1 and "verdict failed" in r.err
        assert not (clone / "labels.yaml").exists()


ROUTER = "model: mock/echo\ninput: {ticket: {type: string}}\ntemplate: 'Team for: {{ ticket }}'\n"
DRAFTER = (
    "model: mock/echo\nuses: {route: router}\ninput: {ticket: {type: string}}\n"
    "template: 'Routed to [{{ uses.route.output }}]: {{ ticket }}'\n"
)
DRAFTER_SUITE = (
    "prompt: drafter\ncases: [{id: a, vars: {ticket: x}}, {id: b, vars: {ticket: y}}]\n"
    "scorers: [{id: routed, type: contains, value: 'Routed to [Team for: '}]\n"
    "gate: {min_pass_rate: 1.0}\n"
)
OTHER_SUITE = (
    "prompt: other\ncases: [{id: a, vars: {}}]\nscorers: [{id: s, type: equals, value: o}]\n"
)


def test_a_router_drafter_chain_evaluates_replays_and_reruns_when_only_the_router_changed(
    git_project,
) -> None:
    p = git_project
    p.write("prompts/router.yaml", ROUTER, dedent=False)
    p.write("prompts/drafter.yaml", DRAFTER, dedent=False)
    p.write("prompts/other.yaml", "model: mock/echo\ntemplate: o\n", dedent=False)
    p.write("evals/drafter.yaml", DRAFTER_SUITE, dedent=False)
    p.write("evals/other.yaml", OTHER_SUITE, dedent=False)
    r = p.run("eval", "drafter", "--format", "json")
    assert r.code == 0, r.err
    [suite] = json.loads(r.out)["suites"]
    assert suite["summary"]["calls"] == 4  # router then drafter, per case
    assert p.run("baseline", "update").code == 0
    p.commit("chain")

    shutil.rmtree(p.root / ".promptctl")
    r = p.run("eval", "drafter", "--offline", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["suites"][0]["summary"]["calls"] == 0

    p.write("prompts/router.yaml", ROUTER.replace("Team for:", "Queue:"), dedent=False)
    r = p.run("eval", "--changed-since", "HEAD", "--format", "json")
    assert [s["suite"] for s in json.loads(r.out)["suites"]] == ["drafter"]
    assert r.code == 1  # the drafter's scorer sees the router's new replies


def test_the_getting_started_tour_has_a_chain_step_its_test_runs() -> None:
    from tests.e2e import test_walkthrough as tour

    steps = tour.parse(tour.DOC.read_text(encoding="utf-8"))
    commands = [s.command for s in steps]
    assert any("uses: {route: router}" in c for c in commands)
    assert "promptctl eval --changed-since HEAD" in commands
    assert any(c.startswith("promptctl eval drafter --offline") for c in commands)
