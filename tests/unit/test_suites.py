"""Suite files: validation with file:line:col, and the lint checks over suites and datasets."""

from __future__ import annotations

from typing import Any

import pytest

from promptctl.errors import UsageError
from promptctl.evals import suites
from promptctl.lint import lint_paths
from promptctl.project import config

PROMPT = "model: mock/echo\ninput:\n  ticket: {type: string}\ntemplate: '{{ ticket }}'\n"


@pytest.fixture
def proj(project: Any) -> Any:
    project.write("prompts/p.yaml", PROMPT)
    project.write("evals/data/d.jsonl", '{"id": "a", "vars": {"ticket": "x"}}\n')
    return project


def load(project: Any, text: str) -> Any:
    path = project.write("evals/s.yaml", text)
    return suites.load_suite(config.load_project(root=project.root), path)


def test_a_valid_suite_loads_with_resolved_paths_and_specs(proj: Any) -> None:
    suite = load(
        proj,
        """\
        prompt: p
        dataset: data/d.jsonl
        repeat: 3
        scorers:
          - {id: a, type: not-contains, value: sorry}
          - {type: llm-rubric, rubric: 'ok?', model: mock/judge}
        gate: {min_pass_rate: 0.9, max_cost_usd: 1}
        """,
    )
    assert suite.name == "s" and suite.repeat == 3
    assert suite.dataset == str(proj.root / "evals/data/d.jsonl")
    a, j = suite.scorers
    assert (a.id, a.type, a.negate, a.value) == ("a", "contains", True, "sorry")
    assert (j.id, j.type, j.options["rubric"]) == ("llm-rubric", "llm-judge", "ok?")
    assert suite.gate.min_pass_rate == 0.9 and suite.gate.max_cost_usd == 1


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\ndescripton: x\n",
            "unknown key 'descripton'",
            "4:1",
        ),
        (
            "prompt: p\ndataset: data/nope.jsonl\nscorers: [{type: is-json}]\n",
            "dataset 'data/nope.jsonl' not found",
            "2:10",
        ),
        (
            "prompt: p\ndataset: ../../x.jsonl\nscorers: [{type: is-json}]\n",
            "leaves the project",
            "2:10",
        ),
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers:\n  - {type: contain, value: x}\n",
            "unknown scorer type 'contain'",
            "4:12",
        ),
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers:\n  - {id: a, type: is-json}\n"
            "  - {id: a, type: is-json}\n",
            "scorer id 'a' is used twice",
            "5:6",
        ),
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers:\n  - {type: regex, value: '(x'}\n",
            "does not compile",
            "4:26",
        ),
        (
            "prompt: p\ndataset: data/d.jsonl\nrepeat: 0\nscorers: [{type: is-json}]\n",
            "'repeat' must be between 1 and 100",
            "3:9",
        ),
        ("prompt: p\nscorers: [{type: is-json}]\n", "needs `dataset` or `cases`", "1:1"),
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers:\n  - {type: contains, value: '{{ x '}\n",
            "scorer 'contains': template syntax error",
            "4:29",
        ),
        (
            "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\ngate: {alpha: 2}\n",
            "'alpha' must be between 0 and 1",
            "4:15",
        ),
    ],
)
def test_bad_suites_are_usage_errors_with_locations(
    proj: Any, text: str, message: str, where: str
) -> None:
    with pytest.raises(UsageError, match=message) as e:
        load(proj, text)
    assert str(e.value.where) == f"evals/s.yaml:{where}"


def test_inline_cases_are_validated(proj: Any) -> None:
    suite = load(
        proj, "prompt: p\ncases:\n  - {id: a, vars: {ticket: x}}\nscorers: [{type: is-json}]\n"
    )
    assert [c.id for c in suite.cases] == ["a"]
    with pytest.raises(UsageError, match="unknown key 'varz'"):
        load(proj, "prompt: p\ncases:\n  - {varz: {}}\nscorers: [{type: is-json}]\n")


def test_select_unknown_suite_suggests_a_name(proj: Any) -> None:
    proj.write(
        "evals/summarize.yaml", "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\n"
    )
    project = config.load_project(root=proj.root)
    assert [s.name for s in suites.select(project, ["summarize"])] == ["summarize"]
    with pytest.raises(UsageError, match="unknown suite 'sumarize'") as e:
        suites.select(project, ["sumarize"])
    assert "did you mean 'summarize'" in (e.value.hint or "")


def codes(project: Any) -> list[tuple[str, str]]:
    p = config.load_project(root=project.root)
    return [(f.code, str(f.where)) for f in lint_paths(p, [project.root / "evals/s.yaml"])]


def test_lint_reports_dataset_problems_with_codes(proj: Any) -> None:
    proj.write(
        "evals/data/d.jsonl",
        '{"id": "a", "vars": {"ticket": "x"}}\n'
        '{"id": "a", "vars": {"ticket": "y"}}\n'
        '{"id": "b", "vars": {}}\n'
        '{"id": "c", "vars": {"ticket": "z", "tone": "dry"}}\n',
    )
    proj.write("evals/s.yaml", "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\n")
    assert codes(proj) == [
        ("PC205", "evals/data/d.jsonl:2:1"),
        ("PC204", "evals/data/d.jsonl:3:1"),
        ("PC211", "evals/data/d.jsonl:4:1"),
    ]


def test_lint_reports_unknown_prompt_bad_row_empty_dataset_and_schema(proj: Any) -> None:
    proj.write("evals/s.yaml", "prompt: q\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\n")
    assert codes(proj) == [("PC201", "evals/s.yaml:1:9")]
    proj.write("evals/data/d.jsonl", '{"vars": {"ticket": "x"}}\nnot json\n')
    proj.write("evals/s.yaml", "prompt: p\ndataset: data/d.jsonl\nscorers: [{type: is-json}]\n")
    assert codes(proj) == [("PC207", "evals/data/d.jsonl:2:1")]
    proj.write("evals/data/d.jsonl", "")
    assert codes(proj) == [("PC209", "evals/s.yaml:1:1")]
    proj.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\nscorers:\n"
        "  - {type: json-schema, value: {type: objekt}}\n",
    )
    assert ("PC210", "evals/s.yaml:4:32") in codes(proj)
