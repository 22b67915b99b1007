"""Hostile input files (issue 9): each is refused with its SPEC §4 exit code and a message naming
the problem, or (BOM + CRLF) works; nothing is written, nothing is fetched, no key leaks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from promptctl import regexes
from promptctl.prompts import rendering, validation
from tests.conftest import FAKE_KEY, Result
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

ECHO = "model: mock/echo\ninput:\n  text: {type: string}\ntemplate: '{{ text }}'\n"
SUITE = "prompt: p\ndataset: data/{name}\nscorers: [{{id: any, type: regex, value: '.'}}]\n"


@pytest.fixture(autouse=True)
def key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # every test runs with a recognisable key in the environment, and ends with a leak check
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(root.rglob("*"))
        if ".git" not in p.relative_to(root).parts
    }


def refused(project: Any, *argv: str, code: int = 2, scan_dir: bool = True) -> Result:
    """Run argv; assert the exit code, no traceback, no key, and no file created or changed."""
    before = snapshot(project.root)
    result = project.run(*argv)
    assert result.code == code, (result.out, result.err)
    assert "Traceback" not in result.err
    assert_no_secret(result.out, result.err)
    assert snapshot(project.root) == before, "a refused input wrote something"
    if scan_dir:  # (1 s per 50 MB: skipped where the only big file is the test's own)
        assert_no_secret_in_dir(project.root)
    return result


# ---------------------------------------------------------------------------- YAML files


def test_alias_bomb_is_refused_at_the_first_anchor(project: Any) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        lines.append(f"{chr(ord('a') + i)}: &{chr(ord('a') + i)} [{','.join(['*' + prev] * 9)}]")
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\nx:\n  " + "\n  ".join(lines))
    start = time.monotonic()
    r = refused(project, "render", "p")
    assert time.monotonic() - start < 2
    assert "prompts/p.yaml:4:6: error: YAML anchors (&name) are not allowed" in r.err


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ("x: " + "[" * 100_000, "prompts/p.yaml:3:"),
        ("x: " + "{a: " * 100_000, "prompts/p.yaml:3:"),
        ("x:\n" + "".join("  " * i + "- \n" for i in range(2000)), "prompts/p.yaml:"),
    ],
    ids=["flow sequences", "flow mappings", "block sequences"],
)
def test_deep_nesting_is_refused_not_a_crash(project: Any, body: str, where: str) -> None:
    # the C loader segfaults at this depth and the Python one raises RecursionError
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\n" + body, dedent=False)
    r = refused(project, "render", "p")
    assert where in r.err and "nesting deeper than 64 levels" in r.err


def test_duplicate_keys_are_refused_with_both_lines(project: Any) -> None:
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: hi\nmodel: openai/gpt-4o\n")
    r = refused(project, "render", "p")
    assert "prompts/p.yaml:3:1: error: duplicate key 'model' (first at line 1)" in r.err


def test_non_utf8_is_refused_with_the_byte_and_place(project: Any) -> None:
    project.write("prompts/p.yaml", b"model: mock/echo\ntemplate: caf\xe9\n")
    r = refused(project, "render", "p")
    assert "prompts/p.yaml:2:14: error: not UTF-8 (byte 0xe9)" in r.err


def test_a_control_character_is_refused_with_its_place(project: Any) -> None:
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: a\x1b[2Jb\n", dedent=False)
    r = refused(project, "render", "p")
    assert "prompts/p.yaml:2:12: error: character U+001B is not allowed in YAML" in r.err


def test_python_tags_run_nothing(project: Any) -> None:
    marker = project.root / "pwned"
    project.write(
        "prompts/p.yaml",
        f"model: mock/echo\ntemplate: !!python/object/apply:os.system ['touch {marker}']\n",
    )
    r = refused(project, "render", "p")
    assert "prompts/p.yaml:2:" in r.err and not marker.exists()


def test_bom_and_crlf_prompt_renders(project: Any) -> None:
    text = (
        "\ufeffmodel: mock/echo\r\nmessages:\r\n  - role: system\r\n    content: |\r\n"
        "      line one\r\n      line {{ n }}\r\n  - {role: user, content: 'hi {{ n }}'}\r\n"
    )
    project.write("prompts/p.yaml", text.encode("utf-8"))
    r = project.run("render", "p", "--var", "n=2", "--format", "json")
    assert r.code == 0, r.err
    messages = json.loads(r.out)
    messages = messages["messages"] if isinstance(messages, dict) else messages
    assert [m["content"] for m in messages] == ["line one\nline 2\n", "hi 2"]


# ------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    "template",
    [
        "{% include '/etc/passwd' %}",
        "{% include '../../../../../../etc/passwd' %}",
        "{% include 'ok/../../../../etc/passwd' %}",
        "{% include '~root/.ssh/id_rsa' %}",
        "{% extends '/etc/passwd' %}",
        "{% import '/etc/passwd' as x %}",
        "{% from '/etc/passwd' import x %}",
        "{% include ['/etc/passwd'] %}",
    ],
)
def test_include_cannot_read_outside_partials(project: Any, template: str) -> None:
    project.write("prompts/partials/ok.j2", "fine")
    project.write("prompts/p.yaml", f'model: mock/echo\ntemplate: "{template}"\n')
    r = refused(project, "render", "p")
    assert "only paths inside prompts/partials/ can be included" in r.err
    assert "prompts/p.yaml:2:" in r.err
    assert "root:" not in r.out + r.err


def test_a_symlinked_partial_pointing_outside_is_refused(project: Any, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    (project.root / "prompts" / "partials").mkdir(parents=True)
    os.symlink(secret, project.root / "prompts" / "partials" / "evil.j2")
    project.write("prompts/p.yaml", "model: mock/echo\ntemplate: \"{% include 'evil.j2' %}\"\n")
    r = refused(project, "render", "p")
    assert "include 'evil.j2' leaves prompts/partials/" in r.err
    assert "TOP-SECRET" not in r.out + r.err


SANDBOX_ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ text.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ self._TemplateReference__context }}",
    "{{ ''|attr('__class__') }}",
    "{{ (text|attr('__class__')).__mro__ }}",
    "{{ '{0.__class__}'.format(text) }}",
    "{{ '{0.__class__.__mro__}'.format(text) }}",
    # CVE-2024-56326 (fixed in Jinja2 3.1.5): str.format reached without a direct call
    "{% set f = '{0.__class__}'.format %}{{ f(text) }}",
    # CVE-2025-27516 (fixed in Jinja2 3.1.6): |attr('format') bypassed the format check
    "{{ ('{0.__class__}'|attr('format'))(text) }}",
    "{{ '%s'|format(text.__class__) }}",
    "{{ text|selectattr('__class__')|list }}",
    "{{ [text]|sort(attribute='__class__.__mro__') }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ [].append(1) }}",
    "{{ {}.update(a=1) }}",
]


@pytest.mark.parametrize("template", SANDBOX_ESCAPES)
def test_sandbox_escapes_are_refused(project: Any, template: str) -> None:
    project.write("prompts/p.yaml", ECHO.replace("'{{ text }}'", json.dumps(template)))
    r = refused(project, "render", "p", "--var", "text=s")
    assert "template refused by the sandbox" in r.err
    assert "prompts/p.yaml:4:" in r.err
    assert "<class" not in r.out + r.err and "uid=" not in r.out


def test_attribute_filters_yield_nothing_usable(project: Any) -> None:
    # map/groupby by an unsafe attribute give Undefined placeholders: no class, no leak
    template = "{{ [text]|map(attribute='__class__')|list }}{{ [text]|groupby('__class__')|list }}"
    project.write("prompts/p.yaml", ECHO.replace("'{{ text }}'", json.dumps(template)))
    r = project.run("render", "p", "--var", "text=s")
    assert "<class" not in r.out + r.err and "str" not in r.out


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'a' * 200000000 }}", "repetition exceeds the rendered-size limit"),
        ("{{ 'a'.ljust(10**9) }}", "ljust() exceeds the rendered-size limit"),
        ("{{ '{:>999999999}'.format(text) }}", "a format width exceeds the rendered-size limit"),
        ("{% for i in range(99999) %}{{ 'x' * 1000 }}{% endfor %}", "exceeds 2,000,000 char"),
        (
            "{% for a in range(99999) %}{% for b in range(99999) %}{% endfor %}{% endfor %}",
            "template took too long (over 0.3 s)",
        ),
    ],
)
def test_huge_or_endless_templates_are_refused(
    project: Any, monkeypatch: pytest.MonkeyPatch, template: str, message: str
) -> None:
    monkeypatch.setattr(rendering, "RENDER_TIMEOUT_S", 0.3)
    project.write("prompts/p.yaml", ECHO.replace("'{{ text }}'", json.dumps(template)))
    start = time.monotonic()
    r = refused(project, "render", "p", "--var", "text=s")
    assert time.monotonic() - start < 3
    assert message in r.err and "prompts/p.yaml:4:" in r.err


# ---------------------------------------------------------------------------- datasets


def eval_project(project: Any, name: str, data: bytes | str) -> None:
    project.write("prompts/p.yaml", ECHO)
    project.write(f"evals/data/{name}", data if isinstance(data, bytes) else data.encode())
    project.write("evals/s.yaml", SUITE.format(name=name))


def refused_eval(project: Any, *extra: str, scan_dir: bool = True) -> Result:
    r = refused(project, "eval", *extra, scan_dir=scan_dir)
    assert not (project.root / ".promptctl" / "runs").exists()
    return r


def test_a_50_mb_csv_field_is_a_clear_error(project: Any) -> None:
    eval_project(project, "d.csv", b"id,text\na," + b"x" * 50_000_000 + b"\n")
    r = refused_eval(project, scan_dir=False)
    assert "evals/data/d.csv:2" in r.err
    assert "field larger than field limit (131072)" in r.err


def test_a_50_mb_jsonl_line_is_a_clear_error(project: Any) -> None:
    line = b'{"id": "a", "vars": {"text": "' + b"x" * 50_000_000 + b'"}}\n'
    eval_project(project, "d.jsonl", line)
    r = refused_eval(project, scan_dir=False)
    assert "evals/data/d.jsonl:1:1: error: line longer than 8,000,000 characters" in r.err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[" * 100_000, "not valid JSON"),
        ('{"id": "a", "vars": {"text": "\\ud800"}}', "lone UTF-16 surrogate"),
        ('{"id": "a", "vars": {"text": "x"}, "id": "b"}', ""),
    ],
    ids=["deep nesting", "lone surrogate", "duplicate key"],
)
def test_hostile_jsonl_lines_are_refused(project: Any, line: str, message: str) -> None:
    eval_project(project, "d.jsonl", '{"id": "ok", "vars": {"text": "fine"}}\n' + line + "\n")
    if not message:
        # JSON keeps the last of two equal keys, as every JSON parser does; not an error
        assert project.run("eval").code == 0
        return
    r = refused_eval(project)
    assert "evals/data/d.jsonl:2:" in r.err and message in r.err


def test_a_non_utf8_dataset_is_refused(project: Any) -> None:
    eval_project(project, "d.jsonl", b'{"id": "a", "vars": {"text": "caf\xe9"}}\n')
    r = refused_eval(project)
    assert "evals/data/d.jsonl" in r.err and "not UTF-8" in r.err


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "d.jsonl",
            b'\xef\xbb\xbf{"id": "a", "vars": {"text": "one"}}\r\n'
            b'{"id": "b", "vars": {"text": "two"}}\r\n',
        ),
        ("d.csv", b'\xef\xbb\xbfid,text\r\na,one\r\nb,"two\r\nlines"\r\n'),
        ("d.yaml", b"\xef\xbb\xbf- {id: a, vars: {text: one}}\r\n- {id: b, vars: {text: two}}\r\n"),
    ],
)
def test_bom_and_crlf_datasets_work(project: Any, name: str, data: bytes) -> None:
    eval_project(project, name, data)
    r = project.run("eval", "--format", "json")
    assert r.code == 0, r.err
    results = next((project.root / ".promptctl" / "runs").iterdir()) / "results.jsonl"
    ids = [json.loads(x)["case_id"] for x in results.read_text().splitlines()]
    assert sorted(ids) == ["a", "b"]


@pytest.mark.parametrize("target", ["../../etc/passwd", "/etc/passwd", "../../../../etc/hosts"])
def test_a_dataset_outside_the_project_is_refused(project: Any, target: str) -> None:
    project.write("prompts/p.yaml", ECHO)
    project.write(
        "evals/s.yaml", f"prompt: p\ndataset: {target}\nscorers: [{{type: regex, value: '.'}}]\n"
    )
    r = refused_eval(project)
    assert f"evals/s.yaml:2:10: error: dataset '{target}' leaves the project" in r.err


def test_a_symlinked_dataset_pointing_outside_is_refused(project: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"id": "a", "vars": {"text": "TOP-SECRET"}}\n')
    (project.root / "evals" / "data").mkdir(parents=True)
    os.symlink(outside, project.root / "evals" / "data" / "d.jsonl")
    project.write("prompts/p.yaml", ECHO)
    project.write("evals/s.yaml", SUITE.format(name="d.jsonl"))
    r = refused_eval(project)
    assert "dataset 'data/d.jsonl' leaves the project" in r.err
    assert "TOP-SECRET" not in r.out + r.err


# ------------------------------------------------------------------ schemas and regexes


class _Counting(BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        body = b'{"type": "integer"}'
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def schema_host() -> Iterator[tuple[str, list[str]]]:
    """A second loopback server that would serve a schema; it must see no request."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def _ref_schemas(url: str, tmp_path: Path) -> list[dict[str, Any]]:
    local = tmp_path / "target.json"
    local.write_text('{"type": "integer"}')
    return [
        {"$ref": f"{url}/schema.json"},
        {"properties": {"a": {"$ref": f"{url}/defs.json#/a"}}},
        {"$id": f"{url}/root.json", "$ref": "other.json"},
        {"$dynamicRef": f"{url}/dyn.json"},
        {"$ref": local.as_uri()},
        {"$ref": "file:///etc/passwd"},
    ]


def test_schema_refs_are_never_fetched_by_validation(
    schema_host: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, hits = schema_host
    for schema in _ref_schemas(url, tmp_path):
        problems = validation.validate({"a": "x"}, schema)
        assert problems, schema
        assert "cannot be resolved: remote refs are not fetched" in problems[0], problems
        # had the file or URL been read, the message would be "'x' is not of type 'integer'"
        assert "is not of type" not in problems[0]
    assert hits == []


def test_schema_refs_are_never_fetched_by_the_json_schema_scorer(
    project: Any, schema_host: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, hits = schema_host
    local = tmp_path / "target.json"
    local.write_text('{"type": "integer"}')
    project.write("prompts/p.yaml", ECHO)
    project.write("evals/data/d.jsonl", '{"id": "a", "vars": {"text": "\\"x\\""}}\n')
    project.write(
        "evals/s.yaml",
        f"""\
        prompt: p
        dataset: data/d.jsonl
        scorers:
          - {{id: remote, type: json-schema, value: {{$ref: '{url}/schema.json'}}}}
          - {{id: local, type: json-schema, value: {{$ref: '{local.as_uri()}'}}}}
        gate: {{min_pass_rate: 0.99}}
        """,
    )
    r = project.run("eval", "--format", "json")
    assert r.code == 1, r.err
    assert hits == []
    line = json.loads(
        (next((project.root / ".promptctl" / "runs").iterdir()) / "results.jsonl")
        .read_text()
        .splitlines()[0]
    )
    for sid in ("remote", "local"):
        score = line["scores"][sid]
        assert score["passed"] is False
        assert "remote refs are not fetched" in (score.get("reason") or score.get("error") or "")
    assert_no_secret(r.out, r.err)


CATASTROPHIC = ["^(a+)+$", "^(a|aa)+$", "(x+x+)+y", "^(\\w+\\s?)*$"]
EVIL_TEXT = "a" * 5000 + "!"


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_catastrophic_regexes_return_or_time_out_quickly(pattern: str) -> None:
    start = time.monotonic()
    try:
        outcome = str(regexes.search_bounded(pattern, EVIL_TEXT))
    except regexes.RegexTimeout as e:
        outcome = str(e)
    assert outcome in ("False", f"regex {pattern!r} took over 1 s (catastrophic backtracking?)")
    assert time.monotonic() - start < 6  # 1 s budget; the regex module checks coarsely


def test_a_catastrophic_schema_pattern_is_a_validation_error_not_a_hang() -> None:
    start = time.monotonic()
    problems = validation.validate(EVIL_TEXT, {"type": "string", "pattern": "^(a|aa)+$"})
    assert time.monotonic() - start < 6  # 1 s budget; the regex module checks coarsely
    assert problems == ["regex '^(a|aa)+$' took over 1 s (catastrophic backtracking?)"]


def test_catastrophic_patterns_in_scorers_fail_the_case_not_the_run(project: Any) -> None:
    project.write("prompts/p.yaml", ECHO)
    project.write(
        "evals/data/d.jsonl",
        json.dumps({"id": "a", "vars": {"text": EVIL_TEXT}})
        + "\n"
        + json.dumps({"id": "b", "vars": {"text": "aaaa"}})
        + "\n",
    )
    project.write(
        "evals/s.yaml",
        """\
        prompt: p
        dataset: data/d.jsonl
        scorers:
          - {id: re, type: regex, value: '^(a|aa)+$'}
          - {id: schema, type: json-schema, value: {type: string, pattern: '^(a|aa)+$'}}
        gate: {min_pass_rate: 0.99}
        """,
    )
    start = time.monotonic()
    r = project.run("eval", "--format", "json")
    assert time.monotonic() - start < 12
    assert r.code == 1, r.err
    lines = [
        json.loads(x)
        for x in (next((project.root / ".promptctl" / "runs").iterdir()) / "results.jsonl")
        .read_text()
        .splitlines()
    ]
    by_case = {x["case_id"]: x["scores"] for x in lines}
    assert by_case["a"]["re"]["passed"] is False
    assert "took over 1 s" in (by_case["a"]["re"].get("error") or by_case["a"]["re"]["reason"])
    assert by_case["a"]["schema"]["passed"] is False
    assert by_case["b"]["re"]["passed"] is True
    assert_no_secret(r.out, r.err)
    assert_no_secret_in_dir(project.root)
