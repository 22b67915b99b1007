"""`eval --shard I/N` then `promptctl merge`: the merged run is gated exactly as an unsharded run
(same verdict, same numbers); merge refuses incomplete, mismatched, missing or duplicated shards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
]
HEAD = "model: mock/echo\ninput: {country: {type: string}, capital: {type: string}}\n"
GOOD = HEAD + 'template: "The capital of {{ country }} is {{ capital }}."\n'
# About half the capitals get lost: a clear, significant regression.
DEGRADED = HEAD + (
    'template: "The capital of {{ country }} is '
    '{% if capital|length < 6 %}{{ capital }}{% else %}unknown{% endif %}."\n'
)
SUITE = """\
prompt: capitals
dataset: data/capitals.jsonl
repeat: 2
scorers:
  - {id: names-capital, type: contains, value: "{{ expected }}"}
  - {id: short, type: not-contains, value: "Kathmandu"}
gate: {max_drop: 0.05, alpha: 0.05}
"""
# Summary numbers that do not depend on how the cases were split (not ids, times, latencies).
SAME = (
    "pairs_total",
    "pairs_done",
    "cases",
    "repeat",
    "call_errors",
    "cached",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "judge_cost_usd",
    "scorers",
    "worst_cases",
    "floor_failures",
    "prompt",
    "prompt_version",
    "model",
    "status",
    "calls",
    "replayed",
)


@pytest.fixture
def capitals(git_project: Any) -> Any:
    p = git_project
    p.write(".gitignore", ".promptctl/\n")
    p.write("prompts/capitals.yaml", GOOD)
    p.write("evals/capitals.yaml", SUITE)
    rows = [
        json.dumps({"id": f"c-{i:02d}", "vars": {"country": c, "capital": k}, "expected": k})
        for i, (c, k) in enumerate(CAPITALS)
    ]
    p.write("evals/data/capitals.jsonl", "\n".join(rows) + "\n")
    assert p.run("eval", "--quiet").code == 0
    assert p.run("baseline", "update", "capitals").code == 0
    p.commit("capitals with a baseline")
    return p


def _eval(p: Any, *args: str) -> tuple[int, dict[str, Any]]:
    r = p.run("eval", "capitals", "--format", "json", *args)
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)["suites"][0]


def _shards(p: Any, n: int, *args: str) -> list[str]:
    return [_eval(p, "--shard", f"{i}/{n}", *args)[1]["run_dir"] for i in range(1, n + 1)]


def _merge(p: Any, *refs: str) -> tuple[int, dict[str, Any]]:
    r = p.run("merge", *refs, "--format", "json")
    assert r.code in (0, 1), r.err
    doc = json.loads(r.out)
    assert len(doc["suites"]) == 1
    return r.code, doc["suites"][0]


def _assert_same_as_unsharded(merged: dict[str, Any], whole: dict[str, Any]) -> None:
    assert merged["exit_code"] == whole["exit_code"]
    assert merged["gate"] == whole["gate"]  # verdict, rates, deltas, CIs, p-values, flips
    for key in SAME:
        assert merged["summary"][key] == whole["summary"][key], key
    assert merged["floor_failures"] == whole["floor_failures"]


def test_shards_then_merge_equal_the_unsharded_regressed_run(capitals: Any) -> None:
    p = capitals
    p.write("prompts/capitals.yaml", DEGRADED)
    code, whole = _eval(p, "--baseline-ref", "HEAD")
    assert code == 1 and whole["gate"]["verdict"] == "regressed"
    dirs = _shards(p, 3, "--baseline-ref", "HEAD")
    parts = [json.loads((Path(d) / "summary.json").read_text())["cases"] for d in dirs]
    assert sum(parts) == len(CAPITALS) and all(parts)  # a real split, every case once

    code, merged = _merge(p, *dirs)
    assert code == 1
    _assert_same_as_unsharded(merged, whole)
    assert merged["gate"]["baseline"]["commit"] == p.git("rev-parse", "HEAD").strip()
    meta = json.loads((Path(merged["run_dir"]) / "run.json").read_text())
    assert meta["shard"] is None and meta["merged_from"] == [Path(d).name for d in dirs]
    lines = (Path(merged["run_dir"]) / "results.jsonl").read_text().splitlines()
    assert len(lines) == len(CAPITALS) * 2


def test_merge_of_a_passing_suite_from_a_directory_of_runs_can_become_the_baseline(
    capitals: Any, tmp_path: Path
) -> None:
    p = capitals
    code, whole = _eval(p)
    assert code == 0
    whole_baseline = p.read("evals/baselines/capitals.json")
    downloaded = tmp_path / "artifacts"
    downloaded.mkdir()
    for d in _shards(p, 2):
        Path(d).rename(downloaded / Path(d).name)  # as CI artifacts land in one directory
    code, merged = _merge(p, str(downloaded))
    assert code == 0
    _assert_same_as_unsharded(merged, whole)
    # The merged run is a whole run: `baseline update` takes it and writes the same bytes.
    r = p.run("baseline", "update", "capitals", "--from-run", merged["run_id"])
    assert r.code == 0, r.err
    assert r.out.startswith("unchanged ")
    assert p.read("evals/baselines/capitals.json") == whole_baseline


def test_empty_shards_of_a_small_suite_run_and_merge(git_project: Any) -> None:
    p = git_project
    p.write("prompts/p.yaml", "model: mock/echo\ninput: {t: {type: string}}\ntemplate: '{{ t }}'\n")
    p.write(
        "evals/tiny.yaml",
        "prompt: p\ncases:\n  - {id: only, vars: {t: hello}}\n"
        "scorers: [{id: hi, type: contains, value: hello}]\n",
    )
    dirs = []
    for i in range(1, 5):
        r = p.run("eval", "--shard", f"{i}/4", "--format", "json")
        assert r.code == 0, r.err  # three shards hold no case: empty runs, not errors
        dirs.append(json.loads(r.out)["suites"][0]["run_dir"])
    r = p.run("merge", *dirs, "--format", "json")
    assert r.code == 0, r.err
    s = json.loads(r.out)["suites"][0]["summary"]
    assert s["cases"] == 1 and s["scorers"]["hi"]["passed"] == 1


@pytest.mark.parametrize("bad", ["3/2", "0/2", "a/b", "1/0", "2"])
def test_bad_shard_is_exit_2(project: Any, bad: str) -> None:
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\n")
    project.write(
        "evals/s.yaml",
        "prompt: p\ncases: [{id: a}]\nscorers: [{id: hi, type: contains, value: hi}]\n",
    )
    r = project.run("eval", "--shard", bad)
    assert r.code == 2
    assert f"--shard {bad!r}" in r.err and "Traceback" not in r.err


def _refused(p: Any, *refs: str) -> str:
    r = p.run("merge", *refs)
    assert r.code == 2, r.out + r.err
    assert "Traceback" not in r.err
    return r.err


def test_merge_refuses_missing_and_duplicated_shards(capitals: Any) -> None:
    p = capitals
    one, two, three = _shards(p, 3)
    err = _refused(p, one, three)
    assert "suite capitals: missing shard 2/3" in err
    err = _refused(p, one)
    assert "missing shards 2/3, 3/3" in err
    again = _eval(p, "--shard", "1/3")[1]["run_dir"]
    err = _refused(p, one, again, two, three)
    assert f"shard 1/3 appears 2 times (runs {Path(one).name}, {Path(again).name})" in err
    err = _refused(p, one, one, two, three)
    assert f"run {Path(one).name} is given more than once" in err
    other = _eval(p, "--shard", "2/2")[1]["run_dir"]
    err = _refused(p, one, other)
    assert "different shard counts" in err


def test_merge_refuses_other_versions_suites_and_non_shards(capitals: Any) -> None:
    p = capitals
    first = _shards(p, 2)[0]
    p.write("prompts/capitals.yaml", DEGRADED)
    second = _shards(p, 2)[1]
    err = _refused(p, first, second)
    assert "different prompt versions" in err and Path(first).name in err

    p.write("evals/other.yaml", SUITE)
    other = p.run("eval", "other", "--shard", "2/2", "--format", "json")
    other_dir = json.loads(other.out)["suites"][0]["run_dir"]
    err = _refused(p, first, other_dir)
    assert "shards of different suites (capitals: 1/2; other: 2/2)" in err
    assert "suite capitals: missing shard 2/2" in err and "suite other: missing shard 1/2" in err

    whole = _eval(p)[1]["run_dir"]
    err = _refused(p, whole)
    assert f"run {Path(whole).name} (suite capitals) is not a shard" in err
    assert _refused(p, "no-such-run").count("no run 'no-such-run'") == 1
