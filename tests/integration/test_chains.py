"""Prompt chains: `uses:` upstreams run first, every step recorded, cached and replayed; the
upstream's version is part of the downstream's; lint catches cycles and unknown upstreams
(issue 14 §3, §4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from promptctl.project import config
from promptctl.prompts import loader
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import Scripted, write_config

ROUTER = 'model: mock/echo\ninput: {ticket: {type: string}}\ntemplate: "Route: {{ ticket }}"\n'
DRAFTER = (
    "model: mock/echo\n"
    "uses: {route: router}\n"
    "input: {ticket: {type: string}}\n"
    'template: "Team [{{ uses.route.output }}] for {{ ticket }}; asked: {{ uses.route.text }}"\n'
)
SUITE = (
    "prompt: drafter\n"
    "cases:\n  - {id: a, vars: {ticket: printer}}\n  - {id: b, vars: {ticket: refund}}\n"
    "scorers:\n  - {id: routed, type: contains, value: 'Team [Route: '}\n"
    "gate: {min_pass_rate: 1.0}\n"
)


def _seed(p) -> None:  # type: ignore[no-untyped-def]
    p.write("prompts/router.yaml", ROUTER, dedent=False)
    p.write("prompts/drafter.yaml", DRAFTER, dedent=False)
    p.write("evals/drafter.yaml", SUITE, dedent=False)


def _latest(root: Path) -> Path:
    # run ids sort by the second they started: two runs in one second need the write time
    return max((root / ".promptctl/runs").iterdir(), key=lambda d: d.stat().st_mtime_ns)


def _records(root: Path) -> list[dict]:
    lines = (_latest(root) / "results.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def _summary(root: Path) -> dict:
    return json.loads((_latest(root) / "summary.json").read_text())


def test_a_chain_calls_upstream_first_and_records_each_step(project) -> None:
    _seed(project)
    r = project.run("eval", "drafter")
    assert r.code == 0, r.out + r.err
    records = sorted(_records(project.root), key=lambda rec: rec["case_id"])
    first = records[0]
    [step] = first["steps"]
    router = loader.resolve("router", config.load_project())
    assert (step["step"], step["prompt"], step["version"]) == ("route", "router", router.version)
    assert step["output"] == "Route: printer"
    assert step["input_tokens"] > 0 and step["output_tokens"] > 0 and step["cost_usd"] == 0.0
    assert first["output"] == "Team [Route: printer] for printer; asked: Route: printer"
    assert _summary(project.root)["calls"] == 4  # two cases, two steps each


def test_an_unchanged_chain_replays_from_the_baseline_with_no_call(project) -> None:
    _seed(project)
    assert project.run("eval", "drafter").code == 0
    assert project.run("baseline", "update", "drafter").code == 0
    baseline = json.loads((project.root / "evals/baselines/drafter.json").read_text())
    assert baseline["uses"] == {"route": f"router@{_version('router')}"}
    shutil.rmtree(project.root / ".promptctl")  # a fresh clone: the baseline alone
    r = project.run("eval", "drafter", "--offline")
    assert r.code == 0, r.out + r.err
    summary = _summary(project.root)
    assert (summary["calls"], summary["replayed"]) == (0, 2)
    assert all(s["replayed"] for rec in _records(project.root) for s in rec["steps"])


def _version(name: str) -> str:
    return loader.resolve(name, config.load_project()).version


def test_the_upstream_version_is_part_of_the_downstream_version(project) -> None:
    _seed(project)
    before = _version("drafter")
    project.write("prompts/router.yaml", ROUTER.replace("Route:", "Send to:"), dedent=False)
    assert _version("drafter") != before
    project.write("prompts/router.yaml", ROUTER, dedent=False)
    assert _version("drafter") == before


def test_the_report_names_the_upstream_change(project) -> None:
    _seed(project)
    assert project.run("eval", "drafter").code == 0
    assert project.run("baseline", "update", "drafter").code == 0
    old = _version("router")
    project.write("prompts/router.yaml", ROUTER.replace("Route:", "Send to:"), dedent=False)
    new = _version("router")
    r = project.run("eval", "drafter")
    assert f"router changed: {old} -> {new} (uses.route)" in r.out + r.err
    records = _records(project.root)
    assert all(not rec["scores"]["routed"]["passed"] for rec in records)  # B's scorers gate


def test_an_upstream_failure_is_the_case_error_naming_the_step_and_the_run_goes_on(
    project, llm_server, monkeypatch
) -> None:
    write_config(project.root, llm_server, max_retries=0)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    _seed(project)
    project.write("prompts/router.yaml", ROUTER.replace("mock/echo", "fake/m"), dedent=False)
    llm_server.enqueue(Scripted.error(500, should_retry=False))
    r = project.run("eval", "drafter", "--concurrency", "1")
    assert r.code == 3, r.out + r.err
    records = {rec["case_id"]: rec for rec in _records(project.root)}
    errors = [rec["error"] for rec in records.values() if rec["error"]]
    assert len(errors) == 1
    assert errors[0].startswith(f"upstream step route (router@{_version('router')}) failed:")
    ok = [rec for rec in records.values() if not rec["error"]]
    assert len(ok) == 1 and ok[0]["scores"]["routed"]["passed"]


def test_render_shows_the_upstream_text_and_takes_its_reply_by_hand(project) -> None:
    _seed(project)
    r = project.run("render", "drafter", "--var", "ticket=x")
    assert r.code == 2
    assert (
        "prompts/drafter.yaml:2:" in r.err and "uses.route.output is the reply of router@" in r.err
    )
    r = project.run(
        "render", "drafter", "--var", "ticket=x", "--var", 'uses={"route": {"output": "billing"}}'
    )
    assert r.code == 0, r.err
    assert "Team [billing] for x; asked: Route: x" in r.out


def test_lint_names_a_cycle_an_unknown_upstream_a_missing_label_and_an_unused_use(
    git_project,
) -> None:
    p = git_project
    _seed(p)
    p.write(
        "prompts/a.yaml",
        "model: mock/echo\nuses: {b: b, ghost: nothere, lbl: router@staging, idle: router}\n"
        "template: '{{ uses.b.output }} {{ uses.ghost.text }} {{ uses.lbl.text }}'\n",
        dedent=False,
    )
    p.write(
        "prompts/b.yaml",
        "model: mock/echo\nuses: [a]\ntemplate: '{{ uses.a.output }}'\n",
        dedent=False,
    )
    p.commit("chains")
    r = p.run("lint", "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    found = {(f["path"], f["code"], f["message"]) for f in data}
    assert ("prompts/a.yaml", "PC111", "uses: a cycle: a -> b -> a") in found
    assert ("prompts/b.yaml", "PC111", "uses: a cycle: b -> a -> b") in found
    assert ("prompts/a.yaml", "PC112", "uses.ghost: unknown prompt 'nothere'") in found
    assert any(
        c == "PC112" and m.startswith("uses.lbl: router@staging: 'staging' is no label")
        for _, c, m in found
    )
    assert ("prompts/a.yaml", "PC113", "uses.idle (router) is never read by the templates") in found
    assert p.run("eval", "drafter").code == 0  # the other prompts still run


OTHER = "model: mock/echo\ntemplate: 'unrelated'\n"
OTHER_SUITE = (
    "prompt: other\ncases: [{id: x, vars: {}}]\nscorers: [{id: s, type: contains, value: u}]\n"
)


def test_graph_shows_prompts_partials_uses_and_suites(project) -> None:
    _seed(project)
    project.write("prompts/partials/sig.j2", "-- team", dedent=False)
    project.write(
        "prompts/other.yaml",
        "model: mock/echo\ntemplate: \"{% include 'sig.j2' %}\"\n",
        dedent=False,
    )
    r = project.run("graph")
    assert r.code == 0, r.err
    drafter, router = _version("drafter"), _version("router")
    assert f"drafter@{drafter}\n  uses route: router\n  evaluated by suite drafter\n" in r.out
    assert f"router@{router}\n  used by drafter\n" in r.out
    assert "  includes partial sig.j2\n" in r.out
    data = json.loads(project.run("graph", "--format", "json").out)
    by_name = {n["name"]: n for n in data}
    assert by_name["drafter"]["uses"] == [
        {"alias": "route", "ref": "router", "prompt": "router", "pinned": None}
    ]
    assert by_name["other"]["partials"] == ["sig.j2"]
    dot = project.run("graph", "router", "--format", "dot").out
    assert dot.startswith("digraph promptctl {")
    assert '"prompt:drafter" -> "prompt:router" [label="uses route"];' in dot
    assert "other" not in dot  # NAME: only its upstreams and dependants
    assert project.run("graph", "ghost").code == 2


def test_changed_since_runs_the_downstream_suite_when_only_the_upstream_changed(
    git_project,
) -> None:
    p = git_project
    _seed(p)
    p.write("prompts/other.yaml", OTHER, dedent=False)
    p.write("evals/other.yaml", OTHER_SUITE, dedent=False)
    p.commit("chain")
    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Route to:"), dedent=False)
    r = p.run("eval", "--changed-since", "HEAD", "--format", "json")
    assert r.code in (0, 1), r.err
    assert [s["suite"] for s in json.loads(r.out)["suites"]] == ["drafter"]


def test_log_marks_an_upstream_change(git_project) -> None:
    p = git_project
    _seed(p)
    p.commit("chain")
    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Route to:"), dedent=False)
    p.commit("router only")
    rows = json.loads(p.run("log", "drafter", "--format", "json").out)["versions"]
    assert [r["changed"] for r in rows] == [["uses:route"], ["added"]]


PINNED = DRAFTER.replace("uses: {route: router}", "uses: {route: router@production}")


def test_promoting_an_upstream_needs_its_pinned_dependants_to_pass_with_it(git_project) -> None:
    p = git_project
    _seed(p)
    p.write("prompts/drafter.yaml", PINNED, dedent=False)
    p.write(
        "evals/router.yaml",
        "prompt: router\ncases: [{id: a, vars: {ticket: t}}]\n"
        "scorers: [{id: s, type: contains, value: t}]\n",
        dedent=False,
    )
    p.commit("pinned chain")
    cmd = ("promote", "router", "--to", "production", "--force", "--reason", "first", "--commit")
    assert p.run(*cmd).code == 0
    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Send to:"), dedent=False)
    p.commit("router v2: the drafter's suite fails with it")
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("promote", "router", "--to", "production")
    assert r.code == 1, r.out + r.err
    assert (
        "dependant drafter@" in r.err and "(uses router@production, evaluated with router@" in r.err
    )
    assert "has no passing gate" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before

    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Route: "), dedent=False)
    p.commit("router v3: still starts with Route:")
    r = p.run("promote", "router", "--to", "production")
    assert r.code == 0, r.out + r.err
    assert "dependant drafter@" in r.out


def test_a_rollout_of_an_upstream_needs_its_pinned_dependants_to_pass_with_it(
    git_project,
) -> None:
    """rollout start (and finish) ask for the same evidence as promote: a router version that
    breaks its pinned drafter does not reach even a slice of traffic."""
    p = git_project
    _seed(p)
    p.write("prompts/drafter.yaml", PINNED, dedent=False)
    p.write(
        "evals/router.yaml",
        "prompt: router\ncases: [{id: a, vars: {ticket: t}}]\n"
        "scorers: [{id: s, type: contains, value: t}]\n",
        dedent=False,
    )
    p.commit("pinned chain")
    cmd = ("promote", "router", "--to", "production", "--force", "--reason", "first", "--commit")
    assert p.run(*cmd).code == 0
    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Send to:"), dedent=False)
    p.commit("router v2: the drafter's suite fails with it")
    assert p.run("eval", "router", "--update-baseline").code == 0  # its own suite passes
    p.commit("router v2 baseline")
    v2 = _version("router")
    before = (p.root / "labels.yaml").read_bytes()
    r = p.run("rollout", "start", "router", "--label", "production", "--to", v2, "--percent", "50")
    assert r.code == 1, r.out + r.err
    assert "dependant drafter@" in r.err and "has no passing gate" in r.err
    assert (p.root / "labels.yaml").read_bytes() == before


def test_a_labelled_dependant_keeps_serving_the_upstream_it_was_labelled_with(git_project) -> None:
    p = git_project
    _seed(p)
    p.write(
        "prompts/drafter.yaml", PINNED.replace("uses.route.output", "uses.route.text"), dedent=False
    )
    p.commit("pinned chain")
    force = ("--force", "--reason", "r", "--commit")
    assert p.run("promote", "router", "--to", "production", *force).code == 0
    labelled = _version("drafter")
    assert p.run("promote", "drafter", "--to", "production", *force).code == 0
    p.write("prompts/router.yaml", ROUTER.replace("Route:", "Send to:"), dedent=False)
    p.commit("router v2")
    assert p.run("promote", "router", "--to", "production", *force).code == 0
    assert _version("drafter") != labelled  # the working tree's drafter now pins router v2

    import promptctl

    served = promptctl.load("drafter", label="production", root=p.root)
    assert served.version == labelled
    assert served.render(ticket="x")[0]["content"].endswith("asked: Route: x")
    r = p.run("render", "drafter@production", "--var", "ticket=x")
    assert r.code == 0, r.err
    assert "asked: Route: x" in r.out
    assert "PC403" not in p.run("lint").out  # the label still loads as its version


def test_export_bundles_a_chain_that_loads_and_renders_without_git(
    git_project, tmp_path, monkeypatch
) -> None:
    p = git_project
    _seed(p)
    p.write(
        "prompts/drafter.yaml",
        DRAFTER.replace("uses.route.output", "uses.route.text"),
        dedent=False,
    )
    p.commit("chain")
    force = ("--force", "--reason", "r")
    assert p.run("promote", "drafter", "--to", "production", *force).code == 0
    bundle = tmp_path / "bundle.json"
    assert p.run("export", "--label", "production", "-o", str(bundle)).code == 0
    import promptctl

    expected = promptctl.load("drafter", label="production", root=p.root)
    monkeypatch.setenv("PROMPTCTL_BUNDLE", str(bundle))
    monkeypatch.chdir(tmp_path)
    loaded = promptctl.load("drafter")
    assert loaded.version == expected.version
    assert loaded.render(ticket="x") == expected.render(ticket="x")
    assert loaded.render(ticket="x")[0]["content"].endswith("asked: Route: x")


def test_run_calls_the_upstream_first_and_shows_the_step(project) -> None:
    _seed(project)
    r = project.run("run", "drafter", "--var", "ticket=printer")
    assert r.code == 0, r.err
    assert r.out == "Team [Route: printer] for printer; asked: Route: printer\n"
    assert f"step route (router@{_version('router')}): Route: printer" in r.err
