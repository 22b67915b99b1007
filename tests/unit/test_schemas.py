"""The shipped JSON Schemas agree with the loaders: good files pass both, bad files fail both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from promptctl import providers
from promptctl.errors import UsageError
from promptctl.evals import suites
from promptctl.labels import store as labels
from promptctl.project import config, yamlio
from promptctl.project.checks import Checker
from promptctl.project.schemas import KINDS, schema, schema_text
from promptctl.prompts import loader

REPO = Path(__file__).resolve().parents[2]
TEMPLATES = REPO / "src" / "promptctl" / "templates" / "init"
EXPECTED = REPO / "tests" / "data" / "interop" / "expected"


def schema_errors(kind: str, data: object) -> list[str]:
    validator = Draft202012Validator(schema(kind))
    return [e.message for e in validator.iter_errors(yamlio.plain(data))]


def loader_errors(kind: str, text: str, root: Path) -> list[str]:
    """What promptctl's own loader says about `text` as a file of `kind` (messages of errors)."""
    checker = Checker("f.yaml")
    try:
        data = yamlio.loads(text, "f.yaml")
        if kind == "labels":
            labels.parse(data, checker)
            return [f.message for f in checker.errors]
        data = yamlio.expect_mapping(data, "f.yaml", what=kind)
        project = config.load_project(root=root)
        if kind == "prompt":
            loader.parse_prompt(data, "p", "f.yaml", project, checker)
        elif kind == "suite":
            suites.parse_suite(data, "s", root / "evals" / "s.yaml", "f.yaml", project, checker)
        else:
            config.parse_config(data, checker)
    except UsageError as e:
        return [e.message]
    return [f.message for f in checker.errors]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "evals" / "data").mkdir(parents=True)
    (tmp_path / "evals" / "data" / "d.jsonl").write_text('{"vars": {}}\n', encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("kind", KINDS)
def test_each_schema_is_valid_draft_2020_12(kind: str) -> None:
    doc = json.loads(schema_text(kind))
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_unknown_kind_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown schema 'promt'") as err:
        schema_text("promt")
    assert "did you mean 'prompt'" in (err.value.hint or "")


def _examples() -> list[tuple[str, Path]]:
    out = [
        ("config", REPO / "promptctl.yaml"),
        ("config", TEMPLATES / "promptctl.yaml"),
        ("prompt", TEMPLATES / "summarize.prompt.yaml"),
        ("suite", TEMPLATES / "summarize.suite.yaml"),
    ]
    out += [("prompt", p) for p in sorted((REPO / "prompts").glob("*.yaml"))]
    out += [("suite", p) for p in sorted((REPO / "evals").glob("*.yaml"))]
    out += [("prompt", p) for p in sorted(EXPECTED.glob("*/prompts/*.yaml"))]
    out += [("suite", p) for p in sorted(EXPECTED.glob("*/evals/*.yaml"))]
    if (REPO / "labels.yaml").is_file():
        out.append(("labels", REPO / "labels.yaml"))
    return out


@pytest.mark.parametrize(("kind", "path"), _examples(), ids=lambda v: getattr(v, "name", v))
def test_every_example_file_validates(kind: str, path: Path) -> None:
    data = yamlio.load_file(path, path.name)
    assert schema_errors(kind, data) == []


def test_the_examples_cover_the_repository() -> None:
    kinds = {k for k, _ in _examples()}
    assert {"prompt", "suite", "config"} <= kinds
    assert len(_examples()) >= 10


GOOD = {
    "prompt": "model: mock/echo\nparams: {temperature: 0.5}\ninput: {x: {type: string}}\n"
    "messages: [{role: user, content: '{{ x }}'}]\noutput: {format: json, schema: {type: object}}\n"
    "tags: [a]\ndescription: d\n",
    "suite": "prompt: p\ndataset: data/d.jsonl\nrepeat: 2\n"
    "scorers: [{id: a, type: not-contains, value: x}, {type: latency, value: 2},\n"
    "  {id: j, type: llm-rubric, rubric: r, scale: [1, 5], pass: 4, model: mock/judge}]\n"
    "record_outputs: false\n"
    "gate: {min_pass_rate: 0.9, max_drop: 0.1, alpha: 0.05, max_cost_usd: 1,\n"
    "       on_inconclusive: fail}\n",
    "config": "paths: {prompts: p}\nproviders:\n  local: {type: openai, base_url: 'http://h/v1', "
    "api_key_env: LOCAL_API_KEY, concurrency: 4, timeout_s: 30, max_retries: 2}\n"
    "prices: {openai/gpt-4o-mini: {input: 0.15, output: 0.6}}\n"
    "defaults: {judge_model: mock/judge}\n",
    "labels": "summarize:\n  production: {version: 8c1e2f0a9b7d, commit: 3f2a1c9}\n",
}


@pytest.mark.parametrize("kind", KINDS)
def test_a_good_file_passes_schema_and_loader(kind: str, root: Path) -> None:
    assert schema_errors(kind, yamlio.loads(GOOD[kind], "f.yaml")) == []
    assert loader_errors(kind, GOOD[kind], root) == []


SUITE = "prompt: p\ndataset: data/d.jsonl\n"
EQ = "scorers: [{type: equals, value: a}]\n"
PROV = "providers: {local: {type: openai, "

BAD = [
    # prompts
    ("prompt", "unknown key", "modle: mock/echo\ntemplate: hi\n"),
    ("prompt", "missing model", "template: hi\n"),
    ("prompt", "bad model id", "model: gpt4\ntemplate: hi\n"),
    ("prompt", "wrong type params", "model: mock/echo\nparams: [1]\ntemplate: hi\n"),
    ("prompt", "temperature type", "model: mock/echo\nparams: {temperature: hot}\ntemplate: hi\n"),
    ("prompt", "temperature range", "model: mock/echo\nparams: {temperature: 3}\ntemplate: hi\n"),
    (
        "prompt",
        "both forms",
        "model: mock/echo\ntemplate: hi\nmessages: [{role: user, content: x}]\n",
    ),
    (
        "prompt",
        "anthropic temperature",
        "model: anthropic/x\nparams: {temperature: 1.5}\ntemplate: hi\n",
    ),
    ("prompt", "no messages", "model: mock/echo\n"),
    ("prompt", "empty messages", "model: mock/echo\nmessages: []\n"),
    ("prompt", "bad role", "model: mock/echo\nmessages: [{role: bot, content: x}]\n"),
    ("prompt", "message key", "model: mock/echo\nmessages: [{role: user, content: x, name: a}]\n"),
    ("prompt", "output format", "model: mock/echo\ntemplate: hi\noutput: {format: xml}\n"),
    (
        "prompt",
        "text with schema",
        "model: mock/echo\ntemplate: hi\noutput: {format: text, schema: {type: object}}\n",
    ),
    ("prompt", "input name", "model: mock/echo\ntemplate: hi\ninput: {my-var: {type: string}}\n"),
    ("prompt", "input not a mapping", "model: mock/echo\ntemplate: hi\ninput: {x: string}\n"),
    ("prompt", "tags", "model: mock/echo\ntemplate: hi\ntags: [1]\n"),
    # suites
    ("suite", "unknown key", SUITE + "scorer: []\n" + EQ),
    ("suite", "missing prompt", "dataset: data/d.jsonl\n" + EQ),
    ("suite", "no cases", "prompt: p\n" + EQ),
    ("suite", "dataset and cases", SUITE + "cases: []\n" + EQ),
    ("suite", "empty scorers", SUITE + "scorers: []\n"),
    ("suite", "unknown scorer type", SUITE + "scorers: [{type: fuzzy}]\n"),
    ("suite", "scorer key", SUITE + "scorers: [{type: equals, value: a, weight: 2}]\n"),
    ("suite", "repeat type", SUITE + "repeat: many\n" + EQ),
    ("suite", "repeat range", SUITE + "repeat: 0\n" + EQ),
    ("suite", "gate range", SUITE + EQ + "gate: {max_drop: 2}\n"),
    ("suite", "gate key", SUITE + EQ + "gate: {max_dorp: 0.1}\n"),
    ("suite", "on_inconclusive", SUITE + EQ + "gate: {on_inconclusive: maybe}\n"),
    ("suite", "latency value", SUITE + "scorers: [{type: latency, value: -1}]\n"),
    ("suite", "judge scale", SUITE + "scorers: [{type: llm-judge, rubric: r, scale: [5]}]\n"),
    ("suite", "record_outputs type", SUITE + EQ + "record_outputs: sometimes\n"),
    ("suite", "judge rubric", SUITE + "scorers: [{type: llm-judge}]\n"),
    ("suite", "dataset suffix", "prompt: p\ndataset: data/d.txt\n" + EQ),
    ("suite", "case key", "prompt: p\ncases: [{id: a, input: {}}]\n" + EQ),
    # promptctl.yaml
    ("config", "unknown key", "provider: {}\n"),
    ("config", "provider type missing", "providers: {local: {base_url: 'http://h'}}\n"),
    ("config", "forbidden key var", PROV + "api_key_env: GITHUB_TOKEN}}\n"),
    ("config", "not a key var", PROV + "api_key_env: HOME}}\n"),
    ("config", "base_url", PROV + "base_url: 'ftp://h'}}\n"),
    ("config", "replies not mock", PROV + "replies: r.yaml}}\n"),
    ("config", "price missing", "prices: {openai/x: {input: 1}}\n"),
    ("config", "price negative", "prices: {openai/x: {input: -1, output: 1}}\n"),
    ("config", "defaults key", "defaults: {judge: mock/judge}\n"),
    ("config", "retries range", "defaults: {max_retries: 50}\n"),
    ("config", "absolute path", "paths: {prompts: /etc}\n"),
    ("config", "escaping path", "paths: {evals: ../elsewhere}\n"),
    # labels.yaml
    ("labels", "bad label name", "summarize:\n  Production: {version: 8c1e2f0a9b7d}\n"),
    ("labels", "long label name", "summarize:\n  " + "a" * 37 + ": {version: 8c1e2f0a9b7d}\n"),
    ("labels", "version not hex", "summarize:\n  production: {version: 8c1e2f0a9b7z}\n"),
    ("labels", "version an int", "summarize:\n  production: {version: 123456789012}\n"),
    ("labels", "version missing", "summarize:\n  production: {commit: abc}\n"),
    ("labels", "entry key", "summarize:\n  production: {version: 8c1e2f0a9b7d, by: me}\n"),
    ("labels", "labels not a mapping", "summarize: production\n"),
]


@pytest.mark.parametrize(("kind", "case", "text"), BAD, ids=[f"{k}-{c}" for k, c, _ in BAD])
def test_a_bad_file_is_rejected_by_schema_and_loader(
    kind: str, case: str, text: str, root: Path
) -> None:
    assert schema_errors(kind, yamlio.loads(text, "f.yaml")), f"schema accepted {case}"
    assert loader_errors(kind, text, root), f"loader accepted {case}"


def test_a_provider_type_is_any_name_to_the_schema_and_an_installed_one_to_the_loader(
    root: Path,
) -> None:
    # The editor cannot know which plug-ins are installed; the loader asks the registry.
    text = "providers: {local: {type: gemini}}\n"
    assert not schema_errors("config", yamlio.loads(text, "f.yaml"))
    assert loader_errors("config", text, root)


def test_schema_keys_are_exactly_the_loaders_keys() -> None:
    """A key added to a loader must be added to its schema too (and the other way round)."""
    from promptctl.evals import datasets

    prompt, suite, cfg, lab = (schema(k) for k in KINDS)
    assert set(prompt["properties"]) == set(loader.PROMPT_KEYS)
    assert set(prompt["properties"]["messages"]["items"]["properties"]) == {"role", "content"}
    assert prompt["properties"]["messages"]["items"]["properties"]["role"]["enum"] == list(
        loader.ROLES
    )
    assert set(suite["properties"]) == set(suites.SUITE_KEYS)
    assert set(suite["properties"]["scorers"]["items"]["properties"]) == set(suites.SCORER_KEYS)
    assert set(suite["properties"]["gate"]["properties"]) == set(suites.GATE_KEYS)
    assert set(suite["properties"]["cases"]["items"]["properties"]) == set(datasets.CASE_KEYS)
    assert set(cfg["properties"]) == set(config._TOP)
    assert set(cfg["properties"]["paths"]["properties"]) == set(config._PATHS)
    provider = cfg["properties"]["providers"]["additionalProperties"]
    assert set(provider["properties"]) == set(config._PROVIDER)
    builtin, plugin = provider["properties"]["type"]["anyOf"]
    assert builtin["enum"] == list(providers.BUILTIN)
    assert plugin == {"type": "string", "minLength": 1}  # an installed plug-in's type
    assert set(cfg["properties"]["defaults"]["properties"]) == set(config._DEFAULTS)
    entry = lab["additionalProperties"]["additionalProperties"]
    assert set(entry["properties"]) == set(labels.ENTRY_KEYS)
    assert set(entry["properties"]["rollout"]["properties"]) == set(labels.ROLLOUT_KEYS)
    assert lab["additionalProperties"]["propertyNames"]["pattern"] == labels.LABEL_NAME.pattern


def test_scorer_types_are_exactly_the_registry() -> None:
    from promptctl import scorers

    names = [*scorers.BUILTIN, *scorers.ALIASES]
    enum = schema("suite")["properties"]["scorers"]["items"]["properties"]["type"]["enum"]
    assert sorted(enum) == sorted(names + [f"not-{n}" for n in names])
