"""Property tests: no text or bytes make the loaders raise anything but promptctl's own errors.

A traceback on a malformed file is a bug (exit 3, "report it") where the user deserved a
file:line:col (exit 2). Version-hash invariance lives in tests/unit/test_versions.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from promptctl.errors import Location, PromptctlError
from promptctl.evals import datasets, suites
from promptctl.model import Suite
from promptctl.project import config, yamlio
from promptctl.prompts import loader
from promptctl.scorers import BUILTIN

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Documents that get past the parser reach the validators (JSON Schema meta-checks): ~40 ms each.
SHAPED = settings(SETTINGS, max_examples=40)

# Pieces of YAML syntax, so generated text reaches the parser's corners rather than failing on
# the first character: flow and block collections, anchors and aliases, tags (including the
# python/ ones safe_load refuses), block scalars, directives, document markers, tabs, a BOM,
# escapes that decode to lone surrogates, and deep openers.
YAML_TOKENS = [
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ", ",
    "\n",
    "  ",
    "\t",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!python/object:os.system ",
    "!!binary ",
    "!!map ",
    "!x ",
    "|\n  ",
    ">-\n  ",
    "? ",
    "%YAML 1.1\n",
    "%TAG ! tag:x:\n",
    "---\n",
    "...\n",
    "#c\n",
    '"',
    "'",
    '"\\ud800"',
    '"\\ud83d\\ude00"',
    '"\\x00"',
    "\ufeff",
    "\r\n",
    "\r",
    "\x00",
    "\x85",
    "\u2028",
    "~",
    "null",
    "true",
    "1e400",
    "0x1F",
    "-.inf",
    ".nan",
    "2001-12-14t21:59:43.10-05:00",
    "model",
    "messages",
    "template",
    "role",
    "content",
    "{{ x }}",
    "{% for %}",
    "params",
    "input",
    "output",
    "schema",
    "prompt",
    "scorers",
    "dataset",
    "cases",
    "type",
    "value",
    "gate",
    "[" * 70,
    "{a: " * 70,
    "- " * 70,
]
yaml_like = st.lists(st.one_of(st.sampled_from(YAML_TOKENS), st.text(max_size=6)), max_size=40).map(
    "".join
)
any_text = st.one_of(st.text(max_size=300), yaml_like)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["{{ x }}", "{% if %}", "mock/echo", "fake/m", "^(a+)+$", "data/x.jsonl"]),
)
plain_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def shaped(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Mappings using mostly the real keys of a file kind, with values of any type."""
    return st.dictionaries(
        st.one_of(st.sampled_from(keys), st.text(max_size=8)), plain_values, max_size=8
    )


PROMPT_KEYS = list(loader.PROMPT_KEYS)
message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", 3])},
    optional={"content": st.one_of(st.text(max_size=30), plain_values)},
)
prompt_docs = st.one_of(
    shaped(PROMPT_KEYS),
    st.fixed_dictionaries(
        {"model": st.sampled_from(["mock/echo", "openai/gpt-4o", "x", "nope/m", ""])},
        optional={
            "messages": st.one_of(st.lists(message, max_size=3), plain_values),
            "template": st.one_of(st.text(max_size=40), plain_values),
            "params": st.one_of(shaped(["temperature", "max_tokens", "top_p", "n"]), plain_values),
            "input": st.one_of(
                st.dictionaries(st.text(max_size=5), shaped(["type", "default", "enum"])),
                plain_values,
            ),
            "output": st.one_of(shaped(["format", "schema"]), plain_values),
        },
    ),
)
scorer_docs = st.fixed_dictionaries(
    {"type": st.one_of(st.sampled_from([*BUILTIN, "llm-rubric", "not-regex", "nope"]), scalars)},
    optional={
        "id": scalars,
        "value": plain_values,
        "scale": plain_values,
        "pass": plain_values,
        "rubric": plain_values,
        "model": plain_values,
        "template": plain_values,
    },
)
suite_docs = st.one_of(
    shaped(list(suites.SUITE_KEYS)),
    st.fixed_dictionaries(
        {"prompt": st.one_of(st.just("p"), scalars), "scorers": st.lists(scorer_docs, max_size=3)},
        optional={
            "dataset": st.one_of(
                st.sampled_from(["data/x.jsonl", "../../etc/passwd", "/etc/passwd", "x.txt"]),
                scalars,
            ),
            "cases": st.one_of(
                st.lists(shaped(["id", "vars", "expected", "tags", "critical"]), max_size=3),
                plain_values,
            ),
            "repeat": plain_values,
            "gate": st.one_of(shaped(list(suites.GATE_KEYS)), plain_values),
            "record_outputs": plain_values,
        },
    ),
)


def to_yaml(doc: Any) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except (yaml.YAMLError, ValueError, RecursionError):
        assume(False)
        raise AssertionError("unreachable") from None


@pytest.fixture(scope="module")
def proj() -> Iterator[config.Project]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp).resolve()
        (root / "prompts").mkdir()
        (root / "prompts" / "p.yaml").write_text("model: mock/echo\ntemplate: hi\n")
        (root / "evals" / "data").mkdir(parents=True)
        (root / "evals" / "data" / "x.jsonl").write_text('{"vars": {"a": 1}}\n')
        yield config.Project(root=root, config=config.Config())


def only_our_errors(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except PromptctlError as e:
        error = e
    assert error.message, "an error without a message"
    return None


@SETTINGS
@given(any_text)
def test_yaml_text_never_raises_a_foreign_error(text: str) -> None:
    only_our_errors(yamlio.loads, text, "f.yaml")


@SETTINGS
@given(st.binary(max_size=300))
def test_bytes_never_raise_a_foreign_error(data: bytes) -> None:
    only_our_errors(lambda: yamlio.loads(yamlio.decode(data, "f.yaml"), "f.yaml"))


@SETTINGS
@given(yaml_like.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_yaml_bytes_with_lone_surrogates_are_refused_cleanly(data: bytes) -> None:
    only_our_errors(lambda: yamlio.loads(yamlio.decode(data, "f.yaml"), "f.yaml"))


@SETTINGS
@given(any_text)
def test_prompt_text_never_raises_a_foreign_error(proj: config.Project, text: str) -> None:
    only_our_errors(loader.load_prompt_text, text, "p", "prompts/p.yaml", proj)


@SHAPED
@given(prompt_docs)
def test_prompt_shaped_documents_never_raise_a_foreign_error(
    proj: config.Project, doc: dict[str, Any]
) -> None:
    prompt = only_our_errors(loader.load_prompt_text, to_yaml(doc), "p", "prompts/p.yaml", proj)
    if prompt is not None:
        assert len(prompt.version) == 12


@SHAPED
@given(st.one_of(suite_docs.map(to_yaml), any_text))
def test_suite_files_never_raise_a_foreign_error(proj: config.Project, text: str) -> None:
    path = proj.root / "evals" / "s.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    only_our_errors(suites.load_suite, proj, path)


def _dataset_cases(proj: config.Project, name: str, data: bytes) -> list[Any]:
    path = proj.root / "evals" / "data" / name
    path.write_bytes(data)
    suite = Suite(
        name="s",
        path=str(proj.root / "evals" / "s.yaml"),
        prompt_ref="p",
        dataset=str(path),
        source=Location("evals/s.yaml", 1, 1),
    )
    return list(datasets.iter_cases(proj, suite))


json_lines = st.lists(
    st.one_of(
        plain_values.map(lambda v: json.dumps(v)),
        shaped(list(datasets.CASE_KEYS)).map(json.dumps),
        st.text(max_size=40),
        st.just("[" * 5000),
        st.just('{"vars": {"a": "\\ud800"}}'),
    ),
    max_size=5,
).map("\n".join)


@SETTINGS
@given(st.one_of(json_lines.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary()))
def test_jsonl_datasets_never_raise_a_foreign_error(proj: config.Project, data: bytes) -> None:
    only_our_errors(_dataset_cases, proj, "x.jsonl", data)


csv_text = st.lists(
    st.lists(
        st.one_of(st.text(max_size=10), st.sampled_from(['"', '""', ",", "\n", "\r"])), max_size=5
    ).map(",".join),
    max_size=5,
).map("\n".join)


@SETTINGS
@given(st.one_of(csv_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary()))
def test_csv_datasets_never_raise_a_foreign_error(proj: config.Project, data: bytes) -> None:
    only_our_errors(_dataset_cases, proj, "x.csv", data)


@SETTINGS
@given(st.one_of(any_text.map(lambda s: s.encode("utf-8", "surrogatepass")), st.binary()))
def test_yaml_datasets_never_raise_a_foreign_error(proj: config.Project, data: bytes) -> None:
    only_our_errors(_dataset_cases, proj, "x.yaml", data)


@SETTINGS
@given(st.one_of(any_text, shaped(["providers", "paths", "prices", "defaults"]).map(to_yaml)))
def test_config_text_never_raises_a_foreign_error(text: str) -> None:
    def parse() -> Any:
        checker = config.Checker(config.CONFIG_FILE)
        cfg = config.read_config(Path("."), checker, text=text)
        checker.raise_first()
        return cfg

    only_our_errors(parse)
