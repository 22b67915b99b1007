"""The newcomer's story through the CLI against the loopback fake server: eval, baseline update,
commit, change the prompt, eval again; replay makes zero calls; bad baselines and refs exit 2."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import write_config

CAPITALS = [
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
    ("Fiji", "Suva"),
    ("Iran", "Tehran"),
    ("Iraq", "Baghdad"),
    ("Mali", "Bamako"),
    ("Chad", "Ndjamena"),
    ("Laos", "Vientiane"),
    ("Oman", "Muscat"),
    ("Togo", "Lome"),
    ("Qatar", "Doha"),
    ("Syria", "Damascus"),
    ("Yemen", "Sanaa"),
    ("Niger", "Niamey"),
    ("Benin", "Porto-Novo"),
    ("Gabon", "Libreville"),
    ("Haiti", "Port-au-Prince"),
    ("Malta", "Valletta"),
    ("Nauru", "Yaren"),
    ("Palau", "Ngerulmud"),
]
N = len(CAPITALS)

# The fake echoes the last user message, so the prompt decides what "the model" answers.
GOOD = (
    "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
    'template: "The capital of {{ country }} is {{ capital }}."\n'
)
REWORDED = (
    "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
    'template: "{{ capital }} is the capital city of {{ country }}."\n'
)
# Degraded: long capital names get lost, about half the cases.
DEGRADED = (
    "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
    'template: "The capital of {{ country }} is '
    '{% if capital|length < 6 %}{{ capital }}{% else %}unknown{% endif %}."\n'
)
SUITE = """\
prompt: capitals
dataset: data/capitals.jsonl
scorers:
  - {id: names-capital, type: contains, value: "{{ expected }}"}
gate:
  max_drop: 0.05
  alpha: 0.05
"""


@pytest.fixture
def story(git_project, llm_server, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(git_project.root, llm_server)
    git_project.write(".gitignore", ".promptctl/\n")
    git_project.write("prompts/capitals.yaml", GOOD)
    git_project.write("evals/capitals.yaml", SUITE)
    rows = [
        json.dumps({"id": f"c-{i:02d}", "vars": {"country": c, "capital": k}, "expected": k})
        for i, (c, k) in enumerate(CAPITALS)
    ]
    git_project.write("evals/data/capitals.jsonl", "\n".join(rows) + "\n")
    git_project.commit("capitals suite")
    return git_project, llm_server


def _fresh_clone_state(p) -> None:  # type: ignore[no-untyped-def]
    """Forget the local cache and runs, as a CI checkout would."""
    shutil.rmtree(p.root / ".promptctl", ignore_errors=True)


def _baseline(p, server) -> None:  # type: ignore[no-untyped-def]
    r = p.run("eval", "capitals")
    assert r.code == 0, r.err
    assert server.total == N
    assert "no baseline" in r.out and "promptctl baseline update capitals" in r.out
    r = p.run("baseline", "update", "capitals")
    assert r.code == 0, r.err
    assert r.out.startswith(f"wrote evals/baselines/capitals.json: {N} cases, {N} recorded")
    p.commit("baseline")


def test_newcomer_story_regressed_then_passed_and_replay_is_free(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    written = (p.root / "evals/baselines/capitals.json").read_bytes()

    # Unchanged prompt, fresh state: every output replays from the baseline, zero calls.
    _fresh_clone_state(p)
    server.reset()
    r = p.run("eval", "capitals")
    assert r.code == 0, r.err
    assert server.total == 0
    assert f"  replayed {N}  tokens" in r.out
    assert "gate: PASSED" in r.out

    # Rewriting the baseline from an identical run changes no byte.
    assert p.run("baseline", "update", "capitals").out.startswith("unchanged ")
    assert (p.root / "evals/baselines/capitals.json").read_bytes() == written

    # A degraded prompt: a clear regression with numbers, exit 1; it pays only for itself.
    p.write("prompts/capitals.yaml", DEGRADED)
    server.reset()
    r = p.run("eval", "capitals")
    assert r.code == 1, r.out + r.err
    # Short capitals render exactly as before: those requests replay, the rest are called.
    assert server.total == sum(len(k) >= 6 for _, k in CAPITALS)
    assert "gate: REGRESSED" in r.out
    line = next(x for x in r.out.splitlines() if x.startswith("names-capital  REGRESSED"))
    assert "100.0%" in line and "-" in line  # base rate, then the drop
    assert "significant: p=" in r.out and "pass->fail: c-" in r.out

    # An equivalent rewording passes.
    p.write("prompts/capitals.yaml", REWORDED)
    r = p.run("eval", "capitals")
    assert r.code == 0, r.out + r.err
    assert "gate: PASSED" in r.out


def test_reports_carry_the_gate_columns(story, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", DEGRADED)
    md, junit = tmp_path / "r.md", tmp_path / "j.xml"
    r = p.run("eval", "capitals", "--format", "json", "--markdown", str(md), "--junit", str(junit))
    assert r.code == 1
    doc = json.loads(r.out)
    gate = doc["suites"][0]["gate"]
    assert gate["verdict"] == "regressed"
    assert gate["baseline"]["path"] == "evals/baselines/capitals.json"
    s = gate["scorers"][0]
    assert s["base_rate"] == 1.0 and s["current_rate"] < 0.9
    assert s["p_value"] < 0.001 and s["delta_ci"][1] < 0
    assert s["min_detectable_drop"] > 0 and s["pass_to_fail"]
    text = md.read_text(encoding="utf-8")
    assert "**Gate: ❌ regressed**" in text and "min detectable drop" in text
    import xml.etree.ElementTree as ET

    root = ET.parse(junit).getroot()
    props = {e.get("name"): e.get("value") for e in root.iter("property")}
    assert props["baseline"] == "evals/baselines/capitals.json" and props["gate"] == "regressed"
    gate_cases = [tc for tc in root.iter("testcase") if tc.get("classname") == "capitals.gate"]
    assert len(gate_cases) == 1 and gate_cases[0].find("failure") is not None


def test_baseline_ref_ignores_a_loosened_working_tree_baseline(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", DEGRADED)
    # The change records its own degraded results as the baseline and loosens its gate...
    assert p.run("eval", "capitals").code == 1
    assert (
        p.run("baseline", "update", "capitals", "--accept-failing", "--reason", "loosen").code == 0
    )
    p.write("evals/capitals.yaml", SUITE.replace("max_drop: 0.05", "max_drop: 0.9"))
    assert p.run("eval", "capitals").code == 0  # judged by itself, it passes
    # ... but against the baseline and gate committed at HEAD it regresses.
    head = p.git("rev-parse", "HEAD").strip()
    r = p.run("eval", "capitals", "--baseline-ref", "HEAD")
    assert r.code == 1, r.out + r.err
    assert f"evals/baselines/capitals.json at {head[:12]}" in r.out
    assert "the stricter of the two applies" in r.out


def test_unknown_baseline_ref_exits_2_with_the_fetch_hint(story) -> None:  # type: ignore[no-untyped-def]
    p, _ = story
    r = p.run("eval", "capitals", "--baseline-ref", "origin/main")
    assert r.code == 2
    assert "origin/main" in r.err and "fetch-depth: 0" in r.err
    assert "Traceback" not in r.err


def test_changed_since_nothing_changed_is_success_not_zero_cases(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    r = p.run("eval", "--changed-since", "HEAD")
    assert r.code == 0
    assert "nothing to evaluate" in r.err
    assert server.total == 0
    r = p.run("eval", "capitals", "--filter", "id:nope-*")
    assert r.code == 2  # a filter that selects zero cases is an input error
    p.write("prompts/capitals.yaml", REWORDED)
    r = p.run("eval", "--changed-since", "HEAD", "--format", "json")
    assert r.code == 0, r.err
    assert [s["suite"] for s in json.loads(r.out)["suites"]] == ["capitals"]


def test_corrupt_baseline_exits_2_naming_file_line_and_fix(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    path = p.root / "evals/baselines/capitals.json"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[4] = lines[4].replace('"pass":1.0', '"pass":"yes"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    server.reset()
    r = p.run("eval", "capitals")
    assert r.code == 2
    assert "evals/baselines/capitals.json:5: error: invalid baseline" in r.err
    assert "promptctl baseline update capitals" in r.err
    assert server.total == 0  # refused before any call
    r = p.run("lint", "evals/baselines/capitals.json")
    assert r.code == 1 and "PC501" in r.out


def test_update_baseline_flag_and_fresh(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    r = p.run("eval", "capitals", "--update-baseline")
    assert r.code == 0, r.err
    assert "wrote evals/baselines/capitals.json" in r.err
    server.reset()
    r = p.run("eval", "capitals", "--fresh", "--update-baseline")
    assert r.code == 0, r.err
    assert server.total == N  # --fresh: no cache, no replay
    assert "unchanged evals/baselines/capitals.json" in r.err
    p.write("evals/capitals.yaml", SUITE + "record_outputs: false\n")
    r = p.run("eval", "capitals", "--update-baseline")
    assert r.code == 0, r.err
    assert f"{N} cases, 0 recorded outputs" in r.err
    assert '"outputs"' not in p.read("evals/baselines/capitals.json")


def test_baseline_update_without_a_run_says_what_to_do(story) -> None:  # type: ignore[no-untyped-def]
    p, _ = story
    r = p.run("baseline", "update", "capitals")
    assert r.code == 2
    assert "no complete run" in r.err and "promptctl eval capitals" in r.err
    r = p.run("baseline", "update", "nope")
    assert r.code == 2 and "unknown suite 'nope'" in r.err


def test_judge_calls_replay_too(story) -> None:  # type: ignore[no-untyped-def]
    from tests.fakes.llm_server import Scripted

    p, server = story
    p.write(
        "evals/judged.yaml",
        """\
        prompt: capitals
        cases:
          - {id: a, vars: {country: France, capital: Paris}}
          - {id: b, vars: {country: Peru, capital: Lima}}
        repeat: 2
        scorers:
          - {id: fair, type: llm-judge, model: fake/judge-1, rubric: "Is it right?", pass: 4}
        """,
    )
    server.default = Scripted.text('{"reason": "fine", "score": 5}')
    r = p.run("eval", "judged", "--update-baseline")
    assert r.code == 0, r.out + r.err
    assert server.total == 8  # 2 cases x 2 repeats: a candidate call and a judge call each
    assert "8 recorded outputs" in r.err
    _fresh_clone_state(p)
    server.reset()
    server.default = Scripted.text('{"reason": "fine", "score": 5}')
    r = p.run("eval", "judged")
    assert r.code == 0, r.out + r.err
    assert server.total == 0  # the candidates and their judges all replayed
    assert "gate: PASSED" in r.out


def test_dry_run_counts_replayable_requests_as_free(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    _fresh_clone_state(p)
    r = p.run("eval", "capitals", "--dry-run", "--format", "json")
    assert r.code == 0, r.err
    (plan,) = json.loads(r.out)
    assert (plan["calls"], plan["cached"]) == (0, N)
    p.write("prompts/capitals.yaml", DEGRADED)
    (plan,) = json.loads(p.run("eval", "capitals", "--dry-run", "--format", "json").out)
    assert plan["calls"] == sum(len(k) >= 6 for _, k in CAPITALS)


def test_update_baseline_refuses_a_partial_run_before_calling(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    r = p.run("eval", "capitals", "--filter", "id:c-0*", "--update-baseline")
    assert r.code == 2
    assert "--update-baseline" in r.err and "--filter" in r.err
    assert server.total == 0


TWO_WRONG = (
    "model: fake/echo-1\ninput: {country: {type: string}, capital: {type: string}}\n"
    'template: "The capital of {{ country }} is '
    "{% if country in ['France', 'Italy'] %}unknown{% else %}{{ capital }}"
    '{% endif %}."\n'
)


def test_small_drop_is_inconclusive_with_a_hint_or_fails_when_configured(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    r = p.run("eval", "capitals")
    assert r.code == 0, r.out + r.err  # 2 of 30 flipped: 6.7 points > max_drop, p = 0.25
    assert "gate: INCONCLUSIVE" in r.out
    assert "names-capital inconclusive" in r.err and "more cases" in r.err
    p.write("evals/capitals.yaml", SUITE + "  on_inconclusive: fail\n")
    # The gate changed, the scorer did not: still compared, now failing on inconclusive.
    r = p.run("eval", "capitals")
    assert r.code == 1, r.out + r.err
    assert "the gate changed since the baseline was recorded" in r.out


@pytest.mark.parametrize("repeat", ["1", "2", "3"])
def test_deterministic_flips_never_get_repeat_advice(story, repeat) -> None:  # type: ignore[no-untyped-def]
    # Issue 17 §3: the fake replies deterministically, so the two flips are the same in every
    # repeat; only more cases can settle it, and the flipped cases show their per-repeat results.
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    r = p.run("eval", "capitals", "--repeat", repeat)
    assert r.code == 0, r.out + r.err
    assert "gate: INCONCLUSIVE" in r.out
    assert "repeat:" not in r.out + r.err
    assert "more cases would settle it" in r.out
    if repeat == "1":
        assert "pass->fail: c-00 (1->0), c-01 (1->0)" in r.out
        assert "unknown whether repeats would help" in r.out
    else:
        assert f"pass->fail: c-00 (1/1->0/{repeat}), c-01 (1/1->0/{repeat})" in r.out
        assert f"more repeats would not: every flip was the same in all {repeat} repeats" in r.out


def test_settle_makes_fresh_calls_of_both_prompts_within_its_budget(story) -> None:  # type: ignore[no-untyped-def]
    # Issue 17 §4: the inconclusive scorer's cases are re-sampled from the baseline's prompt
    # (resolved by its version from git) and the current one; deterministic replies keep the
    # same two flips, so it stays inconclusive, and the report counts the extra calls.
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    before = server.total
    r = p.run("eval", "capitals", "--settle", "--settle-budget", "12")
    assert r.code == 0, r.out + r.err
    assert server.total - before == 2 + 12  # the run's 2 changed requests (rest replayed) + 12
    assert "settle: 12 extra call(s) for this eval" in r.out
    assert "sequential over 2 look(s)" in r.out
    assert "gate: INCONCLUSIVE" in r.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--settle-budget", "0"], "--settle-budget must be a positive number of calls, not 0"),
        (["--settle-budget", "-5"], "--settle-budget must be a positive number of calls, not -5"),
        (["--settle", "--offline"], "--settle makes fresh calls to the model"),
    ],
)
def test_bad_settle_options_are_exit_2_before_any_call(story, args, message) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    r = p.run("eval", "capitals", *args)
    assert r.code == 2, r.out + r.err
    assert message in r.err and "Traceback" not in r.err
    assert server.total == 0


# Prices that make the fake's calls cost something (USD per million tokens), so budgets bite.
PRICED = "prices:\n  fake/echo-1: {input: 1000, output: 1000}\n"


def _summary(p) -> dict:  # type: ignore[no-untyped-def]
    from promptctl.evals import runs
    from promptctl.project import config

    path = runs.latest_run(config.load_project(root=p.root), suite="capitals")
    assert path is not None
    return json.loads((path / "summary.json").read_text())


def test_settle_stays_within_max_cost_and_keeps_the_verdict(story) -> None:  # type: ignore[no-untyped-def]
    # QA: --settle ignored --max-cost and spent many times it. Now its engine gets what the
    # run's budget has left; when that stops it, the scorer stays inconclusive (exit 0, the
    # eval's own verdict), a warning says why, and nothing crashes.
    p, server = story
    _baseline(p, server)
    write_config(p.root, server, extra=PRICED)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    before = server.total
    r = p.run("eval", "capitals", "--settle", "--settle-budget", "40", "--max-cost", "1")
    assert r.code == 0, r.out + r.err
    assert "Traceback" not in r.err
    assert "gate: INCONCLUSIVE" in r.out
    assert "--settle stopped ($" in r.out and "budget of $" in r.out
    assert "sequential over 1 look(s)" in r.out  # the settling look was not used
    made = server.total - before
    assert 2 < made < 2 + 40
    s = _summary(p)
    assert s["cost_usd"] <= 1.0
    assert s["settle_calls"] == made - 2


def test_settle_budget_defaults_to_the_calls_the_eval_made(story) -> None:  # type: ignore[no-untyped-def]
    # The run made 2 calls (28 of its 30 pairs were replayed from the baseline): settling
    # gets 2 calls, not one per pair.
    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    before = server.total
    r = p.run("eval", "capitals", "--settle")
    assert r.code == 0, r.out + r.err
    assert server.total - before == 2 + 2
    assert "settle: 2 extra call(s) for this eval" in r.out
    # Again: now the run makes no call at all (the cache answers): one call per pair.
    before = server.total
    r = p.run("eval", "capitals", "--settle")
    assert r.code == 0, r.out + r.err
    assert server.total - before == N
    assert f"settle: {N} extra call(s) for this eval" in r.out


def test_settle_calls_and_cost_count_in_the_totals_and_summary(story) -> None:  # type: ignore[no-untyped-def]
    p, server = story
    _baseline(p, server)
    write_config(p.root, server, extra=PRICED)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    r = p.run("eval", "capitals", "--settle-budget", "12", "--settle")
    assert r.code == 0, r.out + r.err
    s = _summary(p)
    assert s["settle_calls"] == 12
    assert s["calls"] == 2 + 12
    assert s["settle_cost_usd"] > 0
    run_cost = s["cost_usd"] - s["settle_cost_usd"]
    assert run_cost > 0  # the run's own 2 calls
    assert s["gate"]["cost_usd"] == pytest.approx(s["cost_usd"])  # what the cost floor checks
    assert f"calls {2 + 12}  " in r.out
    assert f"cost ${s['cost_usd']:.4f}" in r.out


def test_settle_p_column_is_the_p_the_message_calls_raw(story) -> None:  # type: ignore[no-untyped-def]
    # QA: the table's P (the last look's test, 0.125) disagreed with the message's "raw 0.139"
    # (the sequential p over the looks, the one Holm corrects). Both show the sequential p now.
    import re

    p, server = story
    _baseline(p, server)
    p.write("prompts/capitals.yaml", TWO_WRONG)
    r = p.run("eval", "capitals", "--settle", "--settle-budget", "12", "--format", "json")
    assert r.code == 0, r.out + r.err
    gate = json.loads(r.out)["suites"][0]["gate"]["scorers"][0]
    assert len(gate["p_looks"]) == 2
    r = p.run("eval", "capitals", "--settle", "--settle-budget", "12")
    row = next(line for line in r.out.splitlines() if line.startswith("names-capital  INCONC"))
    message = re.search(r"names-capital: .*?\bp=([0-9.e-]+)", r.out)
    assert message is not None, r.out
    assert row.split()[7] == message.group(1), r.out  # the P column
