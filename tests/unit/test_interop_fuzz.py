"""Any YAML shaped roughly like either format converts or fails as a UsageError, never a crash."""

from __future__ import annotations

from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promptctl.errors import UsageError
from promptctl.interop import plan_import
from promptctl.project import yamlio

WORDS = [
    "name",
    "model",
    "messages",
    "role",
    "content",
    "user",
    "system",
    "testData",
    "expected",
    "evaluators",
    "string",
    "contains",
    "endsWith",
    "llm",
    "choices",
    "choice",
    "score",
    "prompt",
    "modelParameters",
    "maxTokens",
    "responseFormat",
    "json_schema",
    "jsonSchema",
    "prompts",
    "providers",
    "tests",
    "vars",
    "assert",
    "type",
    "value",
    "threshold",
    "defaultTest",
    "options",
    "provider",
    "id",
    "config",
    "label",
    "equals",
    "icontains",
    "llm-rubric",
    "is-json",
    "latency",
    "not-regex",
    "openai:gpt-4o",
    "echo",
    "{{ x }}",
    "{{x}}",
    "{% raw %}",
    "file://x.txt",
    "x",
]
scalars = st.one_of(
    st.sampled_from(WORDS), st.integers(-3, 3), st.floats(-1, 2), st.booleans(), st.none()
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)
    ),
    max_leaves=25,
)


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    doc=st.dictionaries(st.sampled_from(WORDS), values, min_size=1, max_size=6),
    name=st.sampled_from(["a.prompt.yml", "promptfooconfig.yaml"]),
)
def test_random_documents_convert_or_fail_cleanly(tmp_path: Path, doc: dict, name: str) -> None:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    try:
        plan = plan_import(path, name)
    except UsageError:  # exit 2 with a message; anything else fails the test
        return
    for planned in plan.files:
        if planned.kind != "dataset":
            assert isinstance(yamlio.loads(planned.text, planned.path), dict)
    for item in (*plan.skipped, *plan.notes):
        assert item.where.path == name


message = st.fixed_dictionaries(
    {
        "role": st.sampled_from(["system", "user", "assistant", "bot"]),
        "content": st.sampled_from(["hi {{x}}", "{{ y }} {% raw", "plain", "{{a-b}}"]),
    }
)
prompt_yml = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["openai/gpt-4o", "gpt-4o", "meta/llama"]),
        "messages": st.lists(message, min_size=1, max_size=3),
    },
    optional={
        "name": st.sampled_from(["Hello World", "", "x"]),
        "modelParameters": values,
        "responseFormat": values,
        "jsonSchema": values,
        "testData": st.lists(
            st.dictionaries(st.sampled_from(["x", "y", "expected"]), scalars), max_size=3
        ),
        "evaluators": st.lists(values, max_size=3),
    },
)
an_assert = st.fixed_dictionaries(
    {
        "type": st.sampled_from(
            [
                "equals",
                "contains",
                "not-icontains",
                "regex",
                "is-json",
                "llm-rubric",
                "latency",
                "cost",
                "javascript",
                "contains-any",
                "bogus",
            ]
        )
    },
    optional={"value": values, "threshold": values, "provider": values, "weight": values},
)
promptfoo = st.fixed_dictionaries(
    {
        "prompts": st.one_of(
            st.sampled_from(["Say {{ x }}", "[]"]),
            st.lists(
                st.sampled_from(
                    [
                        "Say {{ x }}",
                        "{% if %}",
                        "file://n.txt",
                        '[{"role": "user", "content": "{{x}}"}]',
                    ]
                ),
                min_size=1,
                max_size=3,
            ),
        ),
        "providers": st.lists(
            st.one_of(st.sampled_from(["echo", "openai:gpt-4o", "vertex:x"]), values),
            min_size=1,
            max_size=3,
        ),
    },
    optional={
        "tests": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "vars": st.dictionaries(st.sampled_from(["x", "y"]), values),
                    "assert": st.lists(an_assert, max_size=3),
                    "description": values,
                },
            ),
            max_size=4,
        ),
        "defaultTest": st.fixed_dictionaries(
            {},
            optional={"vars": values, "assert": st.lists(an_assert, max_size=2), "options": values},
        ),
    },
)


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    doc=st.one_of(
        prompt_yml.map(lambda d: ("a.prompt.yml", d)),
        promptfoo.map(lambda d: ("promptfooconfig.yaml", d)),
    )
)
def test_well_shaped_documents_convert_or_fail_cleanly(tmp_path: Path, doc: tuple) -> None:
    name, body = doc
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body), encoding="utf-8")
    try:
        plan = plan_import(path, name)
    except UsageError:  # exit 2 with a message; anything else fails the test
        return
    for planned in plan.files:
        if planned.kind != "dataset":
            assert isinstance(yamlio.loads(planned.text, planned.path), dict)


@settings(max_examples=150, deadline=None)
@given(text=st.text(alphabet=st.sampled_from([*"ab {}%#:-|>'\"\n\t\r\\", "\u2028", "é"])))
def test_written_yaml_reads_back_exactly(text: str) -> None:
    from promptctl.interop import yaml_text

    data = {"content": text, "nested": [{"role": "user", "content": text}]}
    assert yamlio.plain(yamlio.loads(yaml_text(data), "t.yaml")) == data
