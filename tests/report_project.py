"""A small offline project whose second eval flips cases, and a hostile variant (issue 16)."""

from __future__ import annotations

import json

from tests.conftest import Project

# mock/echo answers with the last user message: the template decides the reply.
GOOD = 'model: mock/echo\ninput: {q: {type: string}}\ntemplate: "Answer: {{ q }}"\n'
# Long questions lose their answer: those cases flip pass -> fail.
WORSE = (
    "model: mock/echo\ninput: {q: {type: string}}\n"
    'template: "Answer: {% if q|length < 12 %}{{ q }}{% else %}no idea{% endif %}"\n'
)
SUITE = """\
prompt: qa
dataset: data/qa.jsonl
scorers:
  - {id: says-it, type: contains, value: "{{ expected }}"}
  - {id: short, type: regex, value: '^.{0,80}$'}
gate: {max_drop: 0.05, alpha: 0.05}
"""
QUESTIONS = [
    ("q-01", "red", ["colour"]),
    ("q-02", "blue", ["colour"]),
    ("q-03", "tall mountain peak", ["geo"]),
    ("q-04", "deep ocean trench", ["geo"]),
    ("q-05", "green", ["colour"]),
    ("q-06", "wide river delta", ["geo"]),
    ("q-07", "pink", ["colour"]),
    ("q-08", "dry desert plain", ["geo"]),
    ("q-09", "grey", ["colour"]),
    ("q-10", "steep canyon wall", ["geo"]),
    ("q-11", "black", ["colour"]),
    ("q-12", "frozen glacier tongue", ["geo"]),
]
# Strings a browser must show as text, never run (issue 16: XSS fixture).
HOSTILE = [
    '<script>alert("id")</script>',
    '<img src=x onerror="alert(1)">',
    '[click](javascript:alert(1)) <a href="javascript:alert(2)">link</a>',
    "</textarea></script><svg onload=alert(3)>",
    "\u2028</script><!--",
]


def dataset(rows: list[tuple[str, str, list[str]]]) -> str:
    return "".join(
        json.dumps({"id": cid, "vars": {"q": q}, "expected": q, "tags": tags}) + "\n"
        for cid, q, tags in rows
    )


def flipped(p: Project) -> Project:
    """Baseline committed with GOOD; the working tree has WORSE: the 6 long questions flip."""
    p.write(".gitignore", ".promptctl/\n")
    p.write("promptctl.yaml", "{}\n")
    p.write("prompts/qa.yaml", GOOD)
    p.write("evals/qa.yaml", SUITE)
    p.write("evals/data/qa.jsonl", dataset(QUESTIONS))
    assert p.run("eval", "--update-baseline", "-q").code == 0
    p.commit("baseline")
    p.write("prompts/qa.yaml", WORSE)
    return p


def hostile(p: Project) -> Project:
    """Case ids, tags, questions and expected values that are markup and script."""
    p.write(".gitignore", ".promptctl/\n")
    p.write("promptctl.yaml", "{}\n")
    p.write("prompts/qa.yaml", GOOD)
    p.write("evals/qa.yaml", SUITE)
    rows = [(f"x{i}-{h}", h, [h[:20]]) for i, h in enumerate(HOSTILE)]
    p.write("evals/data/qa.jsonl", dataset(rows))
    assert p.run("eval", "--update-baseline", "-q").code == 0
    p.commit("baseline")
    p.write("prompts/qa.yaml", WORSE)
    return p
