"""Per-case `assert:` in dataset rows: scored for that case only, gated by case and scorer id."""

from __future__ import annotations

import json
from typing import Any

PROMPT = "model: mock/echo\ninput: {q: {type: string}}\ntemplate: '{{ q }}'\n"


def rows(project: Any, items: list[dict[str, Any]]) -> None:
    project.write("evals/data/d.jsonl", "".join(json.dumps(i) + "\n" for i in items))


def setup(project: Any) -> None:
    project.write("promptctl.yaml", "{}\n")
    project.write("prompts/p.yaml", PROMPT)
    project.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\nscorers: [{id: short, type: length, max: 100}]\n",
    )
    rows(
        project,
        [
            {
                "id": "a",
                "vars": {"q": "refund please"},
                "assert": [{"type": "icontains", "value": "REFUND"}],
            },
            {
                "id": "b",
                "vars": {"q": "hello"},
                "assert": [{"id": "greets", "type": "contains-any", "value": ["hello", "hi"]}],
            },
            {"id": "c", "vars": {"q": "no assert here"}},
        ],
    )


def results(project: Any) -> dict[str, dict[str, Any]]:
    (run,) = (project.root / ".promptctl" / "runs").iterdir()
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["case_id"]: r["scores"] for r in map(json.loads, lines)}


def test_row_asserts_score_only_their_case_and_the_summary_counts_them(project: Any) -> None:
    setup(project)
    r = project.run("eval", "--format", "json")
    assert r.code == 0, r.err
    scores = results(project)
    assert sorted(scores["a"]) == ["icontains", "short"]
    assert sorted(scores["b"]) == ["greets", "short"]
    assert sorted(scores["c"]) == ["short"]
    (run,) = (project.root / ".promptctl" / "runs").iterdir()
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert meta["scorer_hashes"]["greets"] == "per-case"
    doc = json.loads(r.out)
    per = {s["scorer"]: s for s in doc["suites"][0]["gate"]["scorers"]}
    assert (per["greets"]["cases"], per["icontains"]["cases"], per["short"]["cases"]) == (1, 1, 3)


def test_a_row_assert_that_starts_failing_is_a_regression_of_that_scorer(project: Any) -> None:
    setup(project)
    many = [
        {
            "id": f"r{i}",
            "vars": {"q": f"refund {i}"},
            "assert": [{"id": "mentions", "type": "icontains", "value": "refund"}],
        }
        for i in range(12)
    ]
    rows(project, many)
    assert project.run("eval").code == 0
    assert project.run("baseline", "update", "s").code == 0
    project.write(
        "prompts/p.yaml", PROMPT.replace("'{{ q }}'", '\'{{ q | replace("refund", "x") }}\'')
    )
    r = project.run("eval")
    assert r.code == 1, r.out + r.err
    assert r.out.startswith("s: REGRESSED")
    assert any(line.split()[:2] == ["mentions", "REGRESSED"] for line in r.out.splitlines()), r.out


def test_an_unknown_assert_type_is_exit_2_at_the_row(project: Any) -> None:
    setup(project)
    items = [{"vars": {"q": f"x{i}"}} for i in range(56)]
    items.append({"vars": {"q": "y"}, "assert": [{"type": "icontain", "value": "y"}]})
    rows(project, items)
    r = project.run("eval")
    assert r.code == 2
    assert "evals/data/d.jsonl:57:1" in r.err and "icontain" in r.err
    lint = project.run("lint")
    assert lint.code == 1 and "evals/data/d.jsonl:57:1" in lint.out + lint.err
    assert "PC207" in lint.out + lint.err


def test_a_row_assert_reusing_a_suite_scorer_id_is_refused(project: Any) -> None:
    setup(project)
    rows(
        project,
        [{"id": "a", "vars": {"q": "x"}, "assert": [{"id": "short", "type": "length", "max": 1}]}],
    )
    r = project.run("eval")
    assert r.code == 2 and "assert id 'short' is also a scorer of the suite" in r.err
    lint = project.run("lint")
    assert "PC208" in lint.out + lint.err


def test_dry_run_counts_the_judges_of_rows_too(project: Any) -> None:
    setup(project)
    judged = {"type": "llm-judge", "rubric": "Is it polite?", "model": "mock/judge"}
    rows(project, [{"id": f"r{i}", "vars": {"q": f"x{i}"}, "assert": [judged]} for i in range(3)])
    r = project.run("eval", "--dry-run", "--format", "json")
    assert r.code == 0, r.err
    (plan,) = json.loads(r.out)
    assert (plan["suite"], plan["calls"], plan["judge_calls"]) == ("s", 3, 3)
