"""The version is a hash of the canonical content: formatting-blind, content-sensitive."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from promptctl.project import config
from promptctl.prompts import loader

BASE = {
    "description": "Summaries.",
    "model": "openai/gpt-4o-mini",
    "params": {"temperature": 0.2, "max_tokens": 300},
    "input": {"ticket": {"type": "string"}, "tone": {"type": "string", "default": "neutral"}},
    "messages": [
        {"role": "system", "content": "You are a support analyst. Tone: {{ tone }}."},
        {"role": "user", "content": "{{ ticket }}"},
    ],
    "output": {"format": "json", "schema": {"type": "object", "required": ["summary"]}},
    "tags": ["support"],
}
PROJECT = config.Project(root=Path("/nonexistent-project"), config=config.Config())


def version(text: str) -> str:
    return loader.load_prompt_text(text, "p", "prompts/p.yaml", PROJECT).version


def test_version_is_12_hex_digits() -> None:
    v = version(yaml.safe_dump(BASE))
    assert len(v) == 12
    assert int(v, 16) >= 0


def test_same_content_same_version_whatever_the_formatting() -> None:
    block = yaml.safe_dump(BASE, sort_keys=True, default_flow_style=False)
    flow = json.dumps(BASE)  # JSON is YAML: quoting and layout differ entirely
    commented = "# a comment\n" + yaml.safe_dump(BASE, sort_keys=False).replace(
        "model:", "# about the model\nmodel:"
    )
    assert version(block) == version(flow) == version(commented)


def test_description_and_tags_do_not_change_the_version() -> None:
    other = dict(BASE, description="Something else entirely.", tags=["x", "y"])
    assert version(json.dumps(BASE)) == version(json.dumps(other))


def _mutations() -> list[dict]:
    out = []
    msgs = [dict(m) for m in BASE["messages"]]
    msgs[1] = {"role": "user", "content": "{{ ticket }} "}
    out.append(dict(BASE, messages=msgs))
    out.append(dict(BASE, model="openai/gpt-4o"))
    out.append(dict(BASE, params={"temperature": 0.3, "max_tokens": 300}))
    out.append(dict(BASE, params={"temperature": 0.2}))
    out.append(dict(BASE, input={**BASE["input"], "extra": {"type": "string"}}))
    out.append(dict(BASE, input={**BASE["input"], "tone": {"type": "string", "default": "warm"}}))
    out.append(dict(BASE, output={"format": "json", "schema": {"type": "object"}}))
    return out


def test_any_change_of_text_model_params_input_or_output_changes_it() -> None:
    versions = {version(json.dumps(m)) for m in _mutations()}
    versions.add(version(json.dumps(BASE)))
    assert len(versions) == len(_mutations()) + 1


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(BASE)), st.booleans())
def test_key_order_and_style_never_matter(order: list[str], flow: bool) -> None:
    data = {k: BASE[k] for k in order}
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=flow, width=60)
    assert version(text) == version(json.dumps(BASE))


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_every_text_change_changes_the_version(extra: str) -> None:
    changed = dict(BASE, messages=[BASE["messages"][0], {"role": "user", "content": extra}])
    assert version(json.dumps(changed)) != version(json.dumps(BASE)) or extra == "{{ ticket }}"
