"""Hostile model outputs (issue 9): they cannot drive the terminal, break a report or leak."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import FAKE_KEY
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

ESC = "\x1b"
HOSTILE = (
    f"{ESC}[2J{ESC}[31mRED{ESC}[0m "
    f"{ESC}]8;;https://evil.example/{ESC}\\link{ESC}]8;;{ESC}\\ "
    f"{ESC}]52;c;cm0gLXJmIH4K\x07 "
    "\x9b31m\x9d0;title\x9c "
    "[bold red]markup[/] "
    "| col <img src=x onerror=alert(1)> `tick` @octo/team "
    "form\x0cfeed\ufffe "
    "\r\n::error::injected"
)
MARKDOWN = "<img src=x onerror=alert(1)> | `tick` @octo/team [a](javascript:x)"
# ESC, BEL, C1 controls, form feed, CR: none may reach a terminal or a report
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture
def hostile(project: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    project.write(
        "prompts/p.yaml",
        "model: mock/echo\ninput:\n  text: {type: string}\ntemplate: '{{ text }}'\n",
    )
    project.write(
        "evals/data/d.jsonl",
        # a scorer's reason quotes the expected value: dataset text is as untrusted as output
        json.dumps({"id": "evil", "vars": {"text": HOSTILE}, "expected": HOSTILE + "!"})
        + "\n"
        + json.dumps({"id": "=cmd|' /C calc'!A0", "vars": {"text": "=1+1"}, "expected": "="})
        + "\n"
        + json.dumps({"id": "md` <img src=y>", "vars": {"text": "x"}, "expected": MARKDOWN})
        + "\n",
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ndataset: data/d.jsonl\n"
        "scorers:\n  - {id: exact, type: equals, value: '{{ expected }}'}\n"
        "gate: {min_pass_rate: 0.5}\n",
    )
    return project


def test_eval_output_and_reports_carry_no_control_characters(hostile: Any, tmp_path: Path) -> None:
    junit, markdown = tmp_path / "j.xml", tmp_path / "m.md"
    r = hostile.run("eval", "--junit", str(junit), "--markdown", str(markdown))
    assert r.code == 1, r.err
    for stream in (r.out, r.err):
        assert not CONTROL.search(stream), repr(CONTROL.search(stream))
    # JUnit parses, with what could be kept of the output
    tree = ET.parse(junit)
    failures = [f.text or "" for f in tree.iter("failure")]
    assert failures and not any(
        CONTROL.search(f.replace("\n", "").replace("\t", "")) for f in failures
    )
    assert any("RED" in f for f in failures)  # the text arrived, made harmless
    md = markdown.read_text()
    assert "RED" in md and "&lt;img" in md and "md\\` &lt;img src=y&gt;" in md
    assert "<img" not in md and "@octo" not in md
    assert not CONTROL.search(md.replace("\n", ""))
    assert_no_secret(r.out, r.err, md, junit.read_bytes())
    assert_no_secret_in_dir(hostile.root)


def test_run_prints_the_reply_without_control_characters(hostile: Any) -> None:
    r = hostile.run("run", "p", "--var", f"text={HOSTILE}")
    assert r.code == 0, r.err
    assert not CONTROL.search(r.out.replace("\n", "").replace("\t", ""))
    assert "RED" in r.out and "[bold red]markup[/]" in r.out  # text kept, literally
    assert_no_secret(r.out, r.err)
