"""promptfoo config import: prompts, providers, tests, asserts, and everything it must report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from promptctl.errors import UsageError
from promptctl.interop import detect, plan_import
from promptctl.interop.promptfoo import provider_model

DATA = Path(__file__).resolve().parents[1] / "data" / "interop"
CONFIG = DATA / "promptfoo" / "promptfooconfig.yaml"


@pytest.fixture(scope="module")
def plan():
    return plan_import(CONFIG, "promptfooconfig.yaml")


def files_of(plan) -> dict[str, str]:
    return {f.path: f.text for f in plan.files}


def rows_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_echo_config_matches_snapshot() -> None:
    from tests.unit.test_interop_prompt_yml import check_snapshot

    check_snapshot(
        plan_import(DATA / "promptfoo-echo" / "promptfooconfig.yaml", "promptfooconfig.yaml"),
        "promptfoo-echo",
    )


def test_each_prompt_and_provider_pair_becomes_a_prompt_file(plan) -> None:
    prompts = {f.path: yaml.safe_load(f.text) for f in plan.prompts}
    assert sorted(prompts) == [
        "prompts/chat-reply-claude.yaml",
        "prompts/chat-reply-gpt-4o-mini.yaml",
        "prompts/reply-claude.yaml",
        "prompts/reply-gpt-4o-mini.yaml",
    ]
    claude = prompts["prompts/reply-claude.yaml"]
    assert claude["model"] == "anthropic/claude-3-5-sonnet-20241022"
    assert claude["params"] == {"temperature": 0, "max_tokens": 512}
    assert claude["template"].startswith("You are a support agent for {{ company }}.")
    assert claude["input"] == {"company": {"type": "string"}, "ticket": {"type": "string"}}
    chat = prompts["prompts/chat-reply-gpt-4o-mini.yaml"]
    assert chat["model"] == "openai/gpt-4o-mini"
    assert chat["messages"][1] == {"role": "user", "content": "Ticket: {{ ticket | tojson }}"}


def test_the_api_key_in_a_provider_config_goes_nowhere(plan) -> None:
    for text in files_of(plan).values():
        assert "sk-ant-not-a-real-key" not in text
    for item in (*plan.skipped, *plan.notes):
        assert "sk-ant-not-a-real-key" not in str(item)


def test_skipped_items_name_file_line_and_reason(plan) -> None:
    got = [f"{s.where.line}:{s.where.col} {s.what}" for s in plan.skipped]
    assert got == [
        "16:7 provider anthropic:messages:claude-3-5-sonnet-20241022 config.apiKey",
        "17:5 provider bedrock:anthropic.claude-3-haiku-20240307-v1:0",
        "59:9 assert javascript",
        "74:9 assert contains-json",
        "75:9 assert python",
    ]
    assert all(s.where.path == "promptfooconfig.yaml" for s in plan.skipped)
    assert "not built into promptctl" in plan.skipped[1].why
    assert "run code" in plan.skipped[2].why


def test_one_suite_per_prompt_with_default_asserts_as_its_scorers(plan) -> None:
    suites = {f.path: yaml.safe_load(f.text) for f in plan.files if f.kind == "suite"}
    assert len(suites) == 4  # one per prompt file, all on one dataset
    for suite in suites.values():
        assert suite["dataset"] == "data/support-reply-drafts.jsonl"
        assert suite["scorers"] == [
            {"id": "not-icontains", "type": "not-icontains", "value": "as an ai language model"},
            {"id": "latency", "type": "latency", "value": 5.0},  # 5000 ms -> seconds
        ]
        assert suite["gate"] == {"max_drop": 0.05, "alpha": 0.05}
    datasets = [f.path for f in plan.files if f.kind == "dataset"]
    assert datasets == ["evals/data/support-reply-drafts.jsonl"]
    rows = rows_of(files_of(plan)["evals/data/support-reply-drafts.jsonl"])
    ticket = "I was charged twice for my March invoice."
    assert rows[0]["vars"] == {"company": "Acme", "ticket": ticket}


def test_per_test_asserts_become_the_rows_own_scorers(plan) -> None:
    rows = rows_of(files_of(plan)["evals/data/support-reply-drafts.jsonl"])
    assert [r["id"] for r in rows] == [
        "refund-request",
        "crash-report",
        "structured-answer",
        "greeting-style-1",
        "greeting-style-2",
        "order-status",
        "cancellation",
    ]
    assert rows[0]["assert"] == [
        {"id": "icontains", "type": "icontains", "value": "refund"},
        {
            "id": "llm-judge",
            "type": "llm-judge",
            "rubric": "Apologises and promises a refund within 5 business days.",
            "model": "openai/gpt-4o",  # defaultTest.options.provider
            "scale": [0, 1],
            "pass": 0.7,
        },
    ]
    assert rows[1]["assert"][0] == {"id": "icontains", "type": "icontains", "value": "update"}
    assert rows[2]["assert"] == [
        {
            "id": "json-schema",
            "type": "json-schema",
            "value": {"type": "object", "required": ["reply"]},
        },
        {"id": "cost", "type": "cost", "value": 0.002},
    ]
    assert [r["vars"]["company"] for r in rows[3:5]] == ["Acme", "Globex"]  # array var expanded
    greeting = {a["id"]: a for a in rows[3]["assert"]}
    assert greeting["not-contains"] == {
        "id": "not-contains",
        "type": "not-contains",
        "value": "{{ company }} Inc",
    }
    assert greeting["similar"] == {
        "id": "similar",
        "type": "similar",
        "value": "Hi, how can we help?",
        "model": "openai/text-embedding-3-large",  # promptfoo's default embedding provider
        "threshold": 0.8,
    }
    assert rows[5] == {
        "id": "order-status",
        "vars": {"company": "Acme", "ticket": "Where is my order?"},
        "assert": [{"id": "icontains", "type": "icontains", "value": "tracking"}],
    }


@pytest.mark.parametrize(
    ("pid", "model"),
    [
        ("openai:gpt-4o-mini", "openai/gpt-4o-mini"),
        ("openai:chat:gpt-4o", "openai/gpt-4o"),
        ("openai:chat:ft:gpt-4o-mini:acme::abc", "openai/ft:gpt-4o-mini:acme::abc"),
        ("anthropic:messages:claude-3-5-haiku-latest", "anthropic/claude-3-5-haiku-latest"),
        ("anthropic:claude-3-opus", "anthropic/claude-3-opus"),
        ("echo", "mock/echo"),
        ("openai:completion:gpt-3.5-turbo-instruct", None),
        ("openai:embedding:text-embedding-3-small", None),
        ("vertex:gemini-pro", None),
        ("ollama:chat:llama3", None),
    ],
)
def test_provider_ids_map_to_model_ids(pid: str, model: str | None) -> None:
    assert provider_model(pid)[0] == model


def write(tmp_path: Path, text: str, name: str = "promptfooconfig.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_any_and_all_asserts_keep_their_type(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
prompts: ['Say {{ x }}']
providers: [echo]
tests:
  - vars: {x: a}
    assert:
      - {type: icontains-any, value: [Foo, "b.r"]}
      - {type: contains-all, value: "x, y"}
      - {type: not-levenshtein, value: abc, threshold: 2}
""",
    )
    plan = plan_import(path, "c.yaml")
    (row,) = rows_of(next(f.text for f in plan.files if f.kind == "dataset"))
    assert row["assert"] == [
        {"id": "icontains-any", "type": "icontains-any", "value": ["Foo", "b.r"]},
        {"id": "contains-all", "type": "contains-all", "value": ["x", "y"]},
        {"id": "not-levenshtein", "type": "not-levenshtein", "value": "abc", "threshold": 2},
    ]
    suite = yaml.safe_load(next(f.text for f in plan.files if f.kind == "suite"))
    assert suite["scorers"] == [{"id": "output", "type": "length", "min": 0}]
    assert plan.skipped == ()


def test_text_file_prompts_split_at_separator_lines(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("One {{ a }}\n---\nTwo {{ a }}\n", encoding="utf-8")
    path = write(tmp_path, "prompts: [file://p.txt]\nproviders: [openai:gpt-4o]\n")
    plan = plan_import(path, "c.yaml")
    assert [f.path for f in plan.prompts] == ["prompts/p-1.yaml", "prompts/p-2.yaml"]
    first = yaml.safe_load(plan.prompts[0].text)
    assert first["template"] == "One {{ a }}"
    assert first["input"] == {"a": {"type": "string", "default": ""}}  # no test sets it


def test_code_and_transforms_are_skipped_not_dropped(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
prompts: [file://prompt.py, 'Hi {{ n }}']
providers: [{id: 'openai:gpt-4o', config: {apiBaseUrl: 'http://x', frobnicate: 1}}]
outputPath: out.json
tests:
  - vars: {n: file://n.js}
  - vars: {n: x}
    threshold: 0.5
    assert:
      - {type: contains, value: x, transform: output.trim()}
      - {type: levenshtein, value: x}
""",
    )
    plan = plan_import(path, "c.yaml")
    got = [(s.where.line, s.what) for s in plan.skipped]
    assert got == [
        (3, "key 'outputPath'"),
        (1, "prompt file://prompt.py"),
        (2, "provider openai:gpt-4o config.apiBaseUrl"),
        (2, "provider openai:gpt-4o config.frobnicate"),
        (5, "var file://n.js"),
        (5, "test 1"),
        (7, "test 2: threshold"),
        (9, "assert contains: transform"),
    ]


def test_nothing_importable_gives_an_empty_plan(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['hi']\nproviders: ['bedrock:x', 'file://p.js']\n")
    plan = plan_import(path, "c.yaml")
    assert plan.files == ()
    assert [s.where.line for s in plan.skipped] == [2, 2, 2]


@pytest.mark.parametrize(
    ("text", "name", "expected"),
    [
        ("prompts: [hi]\nproviders: [echo]\n", "promptfooconfig.yaml", "promptfoo"),
        ("providers: [echo]\ntests: []\n", "x.yaml", "promptfoo"),
        ("model: openai/a\nmessages: []\n", "x.yaml", "prompt-yml"),
        ("messages: []\n", "x.prompt.yml", "prompt-yml"),
        ("model: openai/a\ntemplate: hi\n", "x.yaml", None),
        ("- a\n- b\n", "x.yaml", None),
    ],
)
def test_format_detection(tmp_path: Path, text: str, name: str, expected: str | None) -> None:
    path = write(tmp_path, text, name)
    assert detect(yaml.safe_load(text), path) == expected


def test_neither_format_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path, "just: a\nrandom: mapping\n", "x.yaml")
    with pytest.raises(UsageError, match=r"neither a GitHub Models \.prompt\.yml nor a promptfoo"):
        plan_import(path, "x.yaml")


def test_suite_names_never_collide(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
prompts:
  - {raw: 'A {{ x }}', label: a}
  - {raw: 'B {{ x }}', label: a-2}
providers: [echo, 'openai:gpt-4o']
tests:
  - vars: {x: one}
    assert: [{type: contains, value: one}]
""",
    )
    plan = plan_import(path, "c.yaml")
    suites = [f.path for f in plan.files if f.kind == "suite"]
    assert suites == [
        "evals/a-echo.yaml",
        "evals/a-gpt-4o.yaml",
        "evals/a-2-echo.yaml",
        "evals/a-2-gpt-4o.yaml",
    ]


def test_jinja_globals_and_loop_names_are_not_inputs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prompts: ['{% for i in range(n) %}{{ i }}{{ loop.index }}{% endfor %} {{ item }}']\n"
        "providers: [echo]\n",
    )
    prompt = yaml.safe_load(plan_import(path, "c.yaml").prompts[0].text)
    assert list(prompt["input"]) == ["n", "item"]


def test_prompt_and_test_files_in_every_form(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.txt").write_text("A {{ x }}", encoding="utf-8")
    (tmp_path / "p" / "b.txt").write_text("B {{ x }}", encoding="utf-8")
    (tmp_path / "chat.yaml").write_text(
        "- {role: system, content: Be brief.}\n- {role: user, content: '{{ x }}'}\n",
        encoding="utf-8",
    )
    (tmp_path / "cases.yaml").write_text(
        "- vars: {x: one}\n  assert: [{type: equals, value: one}]\n"
        "- vars: {x: file://x.txt}\n  assert: [{type: equals, value: two}]\n",
        encoding="utf-8",
    )
    (tmp_path / "x.txt").write_text("two", encoding="utf-8")
    path = write(
        tmp_path,
        "prompts:\n  file://p/*.txt: ignored\n  file://chat.yaml: chatty\n"
        "providers: {id: 'openai:gpt-4o-mini', config: {temperature: 0.1}}\n"
        "tests: file://cases.yaml\n",
    )
    plan = plan_import(path, "c.yaml")
    assert [f.path for f in plan.prompts] == [
        "prompts/a.yaml",
        "prompts/b.yaml",
        "prompts/chatty.yaml",
    ]
    chat = yaml.safe_load(plan.prompts[2].text)
    assert chat["messages"][0] == {"role": "system", "content": "Be brief."}
    assert chat["params"] == {"temperature": 0.1}
    rows = rows_of(next(f.text for f in plan.files if f.kind == "dataset"))
    assert [(r["vars"]["x"], r["assert"][0]["value"]) for r in rows] == [
        ("one", "one"),
        ("two", "two"),
    ]
    assert plan.skipped == ()


def test_a_single_prompt_keeps_its_own_name(tmp_path: Path) -> None:
    (tmp_path / "summarize.txt").write_text("Sum up {{ t }}", encoding="utf-8")
    path = write(
        tmp_path, "description: Demo\nprompts: [file://summarize.txt]\nproviders: [echo]\n"
    )
    assert [f.path for f in plan_import(path, "c.yaml").prompts] == ["prompts/summarize.yaml"]
    path = write(tmp_path, "description: Demo\nprompts: ['Sum up {{ t }}']\nproviders: [echo]\n")
    assert [f.path for f in plan_import(path, "c.yaml").prompts] == ["prompts/demo.yaml"]


def test_tests_whose_asserts_are_all_code_still_run_and_record(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "prompts: ['Q {{ q }}']\ntargets: [echo]\ntests:\n"
        "  - {vars: {q: a}, assert: [{type: equals, value: a}]}\n"
        "  - {description: Only code, vars: {q: b}, assert: [{type: javascript, value: 'true'}]}\n"
        "  - {vars: {q: c}}\n",
    )
    plan = plan_import(path, "c.yaml")
    assert [f.path for f in plan.files if f.kind == "suite"] == ["evals/promptfoo.yaml"]
    rows = rows_of(next(f.text for f in plan.files if f.kind == "dataset"))
    assert [r["id"] for r in rows] == ["test-001", "only-code", "test-003"]
    assert ["assert" in r for r in rows] == [True, False, False]
    assert [s.what for s in plan.skipped] == ["assert javascript"]


def test_paths_are_read_as_files_never_imported_as_text(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text("Say {{ x }}", encoding="utf-8")
    (tmp_path / "p.csv").write_text('prompt,label\n"Hi {{ x }}",greet\n', encoding="utf-8")
    (tmp_path / "tests.csv").write_text(
        "x,__expected,__metadata:area\nhello,icontains: hello,sales\n", encoding="utf-8"
    )
    path = write(
        tmp_path,
        "prompts: [prompts.txt, missing.txt, file://p.csv, 'pf://team/p', '{{ x | allcaps }}']\n"
        "providers: [echo]\ntests: tests.csv\n",
    )
    plan = plan_import(path, "c.yaml")
    prompts = {f.path: yaml.safe_load(f.text) for f in plan.prompts}
    assert {p: d["template"] for p, d in prompts.items()} == {
        "prompts/prompts.yaml": "Say {{ x }}",
        "prompts/greet.yaml": "Hi {{ x }}",
    }
    skipped = {s.what: s.why for s in plan.skipped}
    assert skipped["prompt file://missing.txt"].startswith("cannot read missing.txt")
    assert "remote or promptfoo-hosted" in skipped["prompt pf://team/p"]
    assert "allcaps" in skipped["prompt"]
    (row,) = rows_of(next(f.text for f in plan.files if f.kind == "dataset"))
    assert row["tags"] == ["area:sales"]
    assert row["assert"] == [{"id": "icontains", "type": "icontains", "value": "hello"}]


def test_response_format_becomes_the_output_schema(tmp_path: Path) -> None:
    (tmp_path / "fmt.json").write_text(
        '{"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}',
        encoding="utf-8",
    )
    path = write(
        tmp_path,
        "prompts: ['Q {{ q }}']\nproviders:\n"
        "  - {id: 'openai:gpt-4o', config: {response_format: file://fmt.json}}\n"
        "  - {id: 'openai:gpt-4o-mini', config: {response_format: {type: json_object}}}\n",
    )
    outputs = [yaml.safe_load(f.text)["output"] for f in plan_import(path, "c.yaml").prompts]
    assert outputs == [{"format": "json", "schema": {"type": "object"}}, {"format": "json"}]


def test_prefix_names_the_files_of_a_config_without_description(tmp_path: Path) -> None:
    path = write(tmp_path, "prompts: ['Q {{ q }}']\nproviders: [echo]\ntests: [{vars: {q: a}}]\n")
    paths = sorted(f.path for f in plan_import(path, "c.yaml", prefix="Billing Bot").files)
    assert paths == [
        "evals/billing-bot.yaml",
        "evals/data/billing-bot.jsonl",
        "prompts/billing-bot.yaml",
    ]


def test_a_config_kept_under_evals_is_not_read_as_a_suite(project) -> None:
    project.write("promptctl.yaml", "{}\n")
    project.write(
        "evals/promptfooconfig.yaml",
        "prompts: ['Q {{ q }}']\nproviders: [echo]\ntests: [{vars: {q: a}, assert: "
        "[{type: icontains, value: a}]}]\n",
    )
    assert project.run("import", "evals/promptfooconfig.yaml").code == 0
    lint = project.run("lint")
    assert lint.code == 0, lint.out + lint.err
    assert project.run("eval", "--offline").code == 0
