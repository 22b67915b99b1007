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
