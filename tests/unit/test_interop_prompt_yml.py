"""GitHub Models .prompt.yml import: conversion snapshots, round trip, escaping, refusals."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from promptctl.errors import UsageError
from promptctl.evals import suites
from promptctl.interop import plan_import, write_plan
from promptctl.interop.prompt_yml import (
    decode_rubric,
    encode_rubric,
    export_prompt,
    from_jinja,
    to_jinja,
)
from promptctl.project import config
from promptctl.prompts import loader, rendering

DATA = Path(__file__).resolve().parents[1] / "data" / "interop"
GH = DATA / "ghmodels"
SNAPSHOTS = DATA / "expected"


def plan_of(name: str):
    return plan_import(GH / name, name)


def check_snapshot(plan, folder: str) -> None:
    """Every planned file equals its snapshot, byte for byte.

    PROMPTCTL_UPDATE_SNAPSHOTS=1 rewrites the snapshots (review the diff before committing).
    """
    base = SNAPSHOTS / folder
    if os.environ.get("PROMPTCTL_UPDATE_SNAPSHOTS") == "1":
        for f in plan.files:
            (base / f.path).parent.mkdir(parents=True, exist_ok=True)
            (base / f.path).write_text(f.text, encoding="utf-8")
    expected = sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    assert sorted(f.path for f in plan.files) == expected
    for f in plan.files:
        assert f.text == (base / f.path).read_text(encoding="utf-8"), f.path


@pytest.mark.parametrize(
    ("fixture", "folder"),
    [
        ("ticket-triage.prompt.yml", "ticket-triage"),
        ("text-summarizer.prompt.yml", "text-summarizer"),
        ("json-mode.prompt.yml", "json-mode"),
    ],
)
def test_conversion_matches_snapshot(fixture: str, folder: str) -> None:
    check_snapshot(plan_of(fixture), folder)


def prompt_yml_plan(path: Path, **options: str) -> Any:
    from promptctl.interop import plan_import

    return plan_import(path, str(path), **options)


def test_every_field_lands_where_the_spec_puts_it() -> None:
    plan = plan_of("ticket-triage.prompt.yml")
    files = {f.path: f for f in plan.files}
    prompt = yaml.safe_load(files["prompts/ticket-triage.yaml"].text)
    assert prompt["model"] == "openai/gpt-4o-mini"
    assert prompt["params"] == {"max_tokens": 300, "temperature": 0.2, "top_p": 0.9}
    assert prompt["input"] == {"product": {"type": "string"}, "ticket": {"type": "string"}}
    assert prompt["output"]["format"] == "json"
    assert prompt["output"]["schema"]["title"] == "triage"
    assert prompt["output"]["schema"]["required"] == ["team", "summary"]
    rows = [json.loads(line) for line in files["evals/data/ticket-triage.jsonl"].text.splitlines()]
    assert rows[0] == {
        "id": "ticket-triage-001",
        "vars": {"product": "Acme Cloud", "ticket": "I was charged twice for my March invoice."},
        "expected": "billing",
    }
    suite = yaml.safe_load(files["evals/ticket-triage.yaml"].text)
    assert suite["prompt"] == "ticket-triage"
    assert suite["dataset"] == "data/ticket-triage.jsonl"
    types = {s["id"]: s["type"] for s in suite["scorers"]}
    assert types == {
        "routes-to-the-expected-team": "icontains",
        "is-a-json-object": "starts-with",
        "ends-the-object": "regex",
        "summary-is-grounded": "llm-judge",
        "similar-to-expected": "llm-judge",  # github/similarity, graded by a model
    }
    judge = suite["scorers"][3]
    assert judge["model"] == "openai/gpt-4o"
    assert judge["scale"] == [0, 1]
    assert judge["pass"] == 0.5  # GitHub passes a case whose choice scores above 0
    assert [str(s) for s in plan.skipped] == []


def test_ends_with_regex_matches_like_github(tmp_path: Path) -> None:
    from promptctl.regexes import search_bounded

    plan = plan_of("ticket-triage.prompt.yml")
    suite = yaml.safe_load(next(f.text for f in plan.files if f.kind == "suite"))
    pattern = next(s["value"] for s in suite["scorers"] if s["type"] == "regex")
    assert search_bounded(pattern, '{"team": "billing"}')
    assert not search_bounded(pattern, '{"team": "billing"} trailing')


def test_literal_jinja_syntax_is_kept_as_text() -> None:
    text = 'Reply as {"people": [...]} for {{text}}; keep {% and {# and {% endraw %} as written.'
    jinja, names, refused = to_jinja(text)
    assert names == ["text"] and refused == []
    assert rendering.render_text(jinja, {"text": "X"}) == text.replace("{{text}}", "X")
    assert from_jinja(jinja, "t", None) == text


def test_a_placeholder_that_is_not_a_name_stays_literal() -> None:
    jinja, names, refused = to_jinja("Hi {{first-name}} and {{ who }}")
    assert names == ["who"] and refused == ["{{first-name}}"]
    assert rendering.render_text(jinja, {"who": "Bo"}) == "Hi {{first-name}} and Bo"


def test_rubric_encoding_round_trips() -> None:
    pairs = [('say "yes"', 1), ("no", 0), ("maybe", 0.25)]
    rubric = encode_rubric("Is it right?\n{{completion}}", pairs, "Be strict.\n\nVery.")
    assert decode_rubric(rubric) == ("Is it right?\n{{completion}}", pairs, "Be strict.\n\nVery.")
    assert decode_rubric("A hand-written rubric.") is None


def _import_into(root: Path, fixture: str) -> None:
    write_plan(plan_of(fixture), root)


def _load(root: Path, name: str):
    project = config.load_project(root=root)
    prompt = loader.resolve(name, project)
    suite = suites.load_suite(project, root / "evals" / f"{name}.yaml")
    return project, prompt, suite


@pytest.mark.parametrize("fixture", ["ticket-triage.prompt.yml", "text-summarizer.prompt.yml"])
def test_round_trip_keeps_every_supported_field(tmp_path: Path, fixture: str) -> None:
    original = yaml.safe_load((GH / fixture).read_text(encoding="utf-8"))
    _import_into(tmp_path, fixture)
    name = "ticket-triage" if fixture.startswith("ticket") else "text-summarizer"
    project, prompt, suite = _load(tmp_path, name)
    back = yaml.safe_load(export_prompt(project, prompt, suite))

    assert back["name"] == name  # the display name became the file name
    for key in ("description", "model", "modelParameters", "messages", "testData"):
        assert back[key] == original[key], key
    assert back.get("responseFormat") == original.get("responseFormat")
    if "jsonSchema" in original:
        assert json.loads(back["jsonSchema"]) == json.loads(original["jsonSchema"])
    supported = list(original["evaluators"])  # github/* built-ins round-trip as `uses:` too
    assert [{k: v for k, v in e.items() if k != "name"} for e in back["evaluators"]] == [
        {k: v for k, v in e.items() if k != "name"} for e in supported
    ]


def test_export_names_what_it_cannot_carry(tmp_path: Path) -> None:
    root = tmp_path
    (root / "prompts").mkdir()
    (root / "prompts" / "p.yaml").write_text(
        "model: openai/gpt-4o\nparams: {seed: 7, temperature: 0}\n"
        "input: {who: {type: string, default: you}}\ntemplate: 'Hi {{ who }}'\n",
        encoding="utf-8",
    )
    (root / "evals").mkdir()
    (root / "evals" / "p.yaml").write_text(
        "prompt: p\ncases: [{id: a, vars: {}}]\nrepeat: 2\n"
        "scorers: [{id: nope, type: not-contains, value: x}, {id: hi, type: contains, value: Hi}]\n"
        "gate: {min_pass_rate: 0.9}\n",
        encoding="utf-8",
    )
    project, prompt, suite = _load(root, "p")
    text = export_prompt(project, prompt, suite)
    head = text.split("\nname:")[0]
    for lost in (
        "params.seed",
        "input defaults (who)",
        "scorer 'nope' (not-contains)",
        "scorer 'hi': contains is case-sensitive",
        "gate of suite 'p'",
        "repeat: 2",
    ):
        assert lost in head
    data = yaml.safe_load(text)
    assert data["modelParameters"] == {"temperature": 0}
    assert data["testData"] == [{"who": "you"}]
    assert data["messages"] == [{"role": "user", "content": "Hi {{who}}"}]


def test_export_refuses_jinja_github_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "p.yaml").write_text(
        "model: openai/gpt-4o\ninput: {x: {type: string}}\n"
        "messages:\n  - role: user\n    content: '{{ x | upper }}'\n",
        encoding="utf-8",
    )
    project = config.load_project(root=tmp_path)
    with pytest.raises(UsageError, match="Jinja beyond") as err:
        export_prompt(project, loader.resolve("p", project))
    assert str(err.value.where) == "prompts/p.yaml:5:14"


def test_bare_and_foreign_models_are_reported(tmp_path: Path) -> None:
    src = tmp_path / "a.prompt.yml"
    src.write_text("model: gpt-4o\nmessages: [{role: user, content: hi}]\n", encoding="utf-8")
    plan = plan_import(src, "a.prompt.yml")
    assert "model: openai/gpt-4o" in plan.files[0].text
    assert [str(n) for n in plan.notes] == [
        "a.prompt.yml:1:8: model 'gpt-4o': read as openai/gpt-4o"
    ]
    src.write_text(
        "model: meta/llama-3.3-70b\nmessages: [{role: user, content: hi}]\n", encoding="utf-8"
    )
    plan = plan_import(src, "a.prompt.yml")
    assert str(plan.skipped[0]).startswith("a.prompt.yml:1:8: provider 'meta': not built into")


def test_unconvertible_parts_are_listed_with_lines(tmp_path: Path) -> None:
    src = tmp_path / "b.prompt.yml"
    src.write_text(
        "name: B\nmodel: openai/gpt-4o\nmodelParameters: {frequencyPenalty: 1}\nextra: 1\n"
        "messages:\n  - {role: developer, content: x}\n  - {role: user, content: '{{q}}'}\n"
        "testData: [{q: a, expected: z}]\n"
        "evaluators:\n  - name: tail\n    string: {endsWith: '{{expected}}'}\n"
        "  - name: odd\n    string: {equals: a, contains: b}\n",
        encoding="utf-8",
    )
    plan = plan_import(src, "b.prompt.yml")
    got = [str(s) for s in plan.skipped]
    assert got == [
        "b.prompt.yml:4:1: key 'extra': not a .prompt.yml field promptctl knows",
        "b.prompt.yml:3:19: modelParameters.frequencyPenalty: not a GitHub Models parameter "
        "promptctl maps (known: maxTokens, temperature, topP)",
        "b.prompt.yml:6:5: messages[0] with role 'developer': promptctl messages are system, "
        "user, assistant",
        "b.prompt.yml:10:5: evaluator 'tail': endsWith with a {{variable}} cannot become a regex "
        "(promptctl has no ends-with scorer)",
        "b.prompt.yml:12:5: evaluator 'odd': a string evaluator needs exactly one of equals, "
        "contains, startsWith, endsWith with a text value",
    ]
    assert [str(n) for n in plan.notes][-1] == (
        "b.prompt.yml:8:1: testData: imported as evals/data/b.jsonl; no evaluators, so no suite "
        "was written"
    )
    assert [f.kind for f in plan.files] == ["prompt", "dataset"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nmessages: hi\nmodel: openai/a\n", "`messages:` must be a non-empty list"),
        (
            "model: openai/a\nmessages: [{role: user, content: hi}]\nresponseFormat: xml\n",
            "responseFormat 'xml' is not one of text, json_object, json_schema",
        ),
        (
            "model: openai/a\nmessages: [{role: user, content: hi}]\nresponseFormat: json_schema\n"
            "jsonSchema: '{nope'\n",
            "jsonSchema is not valid JSON",
        ),
    ],
)
def test_malformed_prompt_yml_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    src = tmp_path / "c.prompt.yml"
    src.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError, match=message.replace("(", r"\(")) as err:
        plan_import(src, "c.prompt.yml")
    assert err.value.where is not None and err.value.where.path == "c.prompt.yml"
    assert err.value.exit_code == 2


def test_a_variable_missing_from_some_rows_gets_an_empty_default(tmp_path: Path) -> None:
    src = tmp_path / "d.prompt.yml"
    src.write_text(
        "model: openai/gpt-4o\nmessages: [{role: user, content: '{{a}} {{b}}'}]\n"
        "testData: [{a: x, b: y}, {a: z}]\n",
        encoding="utf-8",
    )
    plan = plan_import(src, "d.prompt.yml")
    prompt = yaml.safe_load(plan.prompts[0].text)
    assert prompt["input"] == {"a": {"type": "string"}, "b": {"type": "string", "default": ""}}
    assert str(plan.notes[0]) == (
        "d.prompt.yml:3:1: variable 'b': not set by every testData row; declared with default \"\""
    )


def test_github_models_files_as_exported_import(tmp_path: Path) -> None:
    """No model (the workflow supplies it), snake_case params, a bare jsonSchema, github/*."""
    path = tmp_path / "w.prompt.yml"
    path.write_text(
        "name: w\nmessages: [{role: user, content: '{{q}}'}]\n"
        "modelParameters: {max_tokens: 50, top_p: 0.5}\n"
        "responseFormat: json_schema\n"
        'jsonSchema: \'{"type": "object", "required": ["a"]}\'\n'
        "testData: [{q: hi, expected: hello}]\n"
        "evaluators:\n  - {name: coherent, uses: github/coherence}\n"
        "  - {name: close, uses: github/similarity}\n  - {name: odd, uses: github/unknown}\n",
        encoding="utf-8",
    )
    plan = prompt_yml_plan(path)
    files = {f.path: yaml.safe_load(f.text) for f in plan.files if f.path.endswith(".yaml")}
    prompt = files["prompts/w.yaml"]
    assert prompt["model"] == "openai/gpt-4o-mini"
    assert prompt["params"] == {"max_tokens": 50, "top_p": 0.5}
    assert prompt["output"] == {"format": "json", "schema": {"type": "object", "required": ["a"]}}
    types = {s["id"]: s["type"] for s in files["evals/w.yaml"]["scorers"]}
    assert types == {"coherent": "llm-judge", "close": "llm-judge"}
    assert any("--model" in str(n) for n in plan.notes)
    assert [str(s) for s in plan.skipped] == [
        f"{path}:10:5: evaluator 'odd': built-in evaluator 'github/unknown' has no promptctl "
        "equivalent; write an llm-judge rubric"
    ]
    given = prompt_yml_plan(path, model="anthropic/claude-x")
    assert "model: anthropic/claude-x" in given.files[0].text
