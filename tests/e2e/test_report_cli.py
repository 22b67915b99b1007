"""eval --html, report, show (issue 16): what a reviewer sees, escaped, deterministic."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from promptctl.reporters import html
from tests import report_project
from tests.conftest import Project


class _Page(HTMLParser):
    """Tags, attributes and the JSON data block of a report, as a browser's parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, str] = {}
        self._script: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs).get("id") or "inline"
            self.data[self._script] = ""

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self.data[self._script] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    return page


def _run_ids(p: Project) -> list[str]:
    return sorted(d.name for d in (p.root / ".promptctl" / "runs").iterdir())


def _run_of(out: str) -> str:
    match = re.search(r"  run (\S+)", out)
    assert match, out
    return match.group(1)


def test_eval_html_shows_flipped_cases_side_by_side(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    r = p.run("eval", "--html", "out/report.html")
    assert r.code == 1, r.out  # 6 of 12 cases lost their answer: regressed
    text = p.read("out/report.html")
    page = parse(text)
    data = json.loads(page.data["report-data"])
    by_id = {c["id"]: c for c in data["cases"]}
    flipped = by_id["q-03"]
    assert flipped["verdicts"] == ["regressed", "flipped", "failed"]
    (rep,) = flipped["repeats"]
    assert html.worddiff.sides([tuple(op) for op in rep["diff"]]) == (
        "Answer: tall mountain peak",
        "Answer: no idea",
    )
    assert ["-", "tall mountain peak"] in rep["diff"] and ["+", "no idea"] in rep["diff"]
    assert by_id["q-01"]["verdicts"] == []
    assert flipped["messages"] == [["user", "Answer: no idea"]]
    # The prompt diff between the baseline's version and the run's.
    assert '<span class="add">+Answer: {% if q|length &lt; 12 %}' in text
    assert "REGRESSED" in text and 'class="verdict v-regressed"' in text
    # Every run directory keeps the report it was asked for.
    assert (p.root / ".promptctl/runs" / _run_of(r.out) / "report.html").read_text() == text


def test_report_numbers_are_the_terminals_and_bytes_are_stable(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    r = p.run("eval")
    run_id = _run_of(r.out)
    assert p.run("report", run_id, "-o", "a.html").code == 0
    assert p.run("report", run_id, "-o", "b.html").code == 0
    a, b = (p.root / "a.html").read_bytes(), (p.root / "b.html").read_bytes()
    assert a == b  # deterministic: the same run renders the same bytes
    text = a.decode()
    # The gate table's rows are the terminal's, cell for cell.
    rows = [
        re.split(r"\s{2,}", line.strip())
        for line in r.out.splitlines()
        if re.match(r"^(says-it|short)\s+(PASSED|REGRESSED)\s", line)
    ]
    assert len(rows) == 2
    for cells in rows:
        assert "".join(f"<td>{c}</td>" for c in cells) in text


def test_report_head_has_a_strict_csp_and_no_external_reference(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    p.run("eval", "--html", "r.html")
    text = p.read("r.html")
    page = parse(text)
    (csp,) = [
        a["content"] for t, a in page.tags if a.get("http-equiv") == "Content-Security-Policy"
    ]
    assert csp is not None
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp
    assert f"script-src '{html.script_hash()}'" in csp
    scripts = [a for t, a in page.tags if t == "script"]
    assert scripts == [{"type": "application/json", "id": "report-data"}, {}]
    for tag, attrs in page.tags:
        assert "src" not in attrs or tag == "img", (tag, attrs)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name)
            assert not (value or "").startswith(("http:", "https:", "//", "javascript:")), value


def test_hostile_strings_stay_text(git_project: Project) -> None:
    p = report_project.hostile(git_project)
    p.run("eval", "--html", "r.html")
    text = p.read("r.html")
    page = parse(text)
    # No element or attribute came from the data: the tags are the template's own.
    assert {t for t, _ in page.tags} <= {
        "html", "head", "meta", "title", "style", "body", "header", "h1", "span", "p", "main",
        "section", "h2", "code", "table", "thead", "tr", "th", "tbody", "td", "ul", "li",
        "details", "summary", "pre", "div", "label", "select", "option", "input", "button",
        "noscript", "script",
    }  # fmt: skip
    data_block = text.split('id="report-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data_block and ">" not in data_block and "\u2028" not in data_block
    data = json.loads(page.data["report-data"])
    ids = {c["id"] for c in data["cases"]}
    assert {f"x{i}-{h}" for i, h in enumerate(report_project.HOSTILE)} == ids
    assert text.count("<script") == 2
    assert all(not name.startswith("on") for _, attrs in page.tags for name in attrs)


def test_long_replies_are_truncated_with_a_marker() -> None:
    long = "word " * 2000
    clipped = html.clip(long)
    assert len(clipped) < len(long)
    assert clipped.endswith(
        f"[truncated: {len(long) - html.MAX_TEXT_CHARS} more characters not shown]"
    )
    assert html.clip("short") == "short"


def test_script_json_escapes_what_could_end_the_block() -> None:
    text = html.script_json({"a": "</script><!--&\u2028\u2029"})
    assert text == '{"a":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028\\u2029"}'
    assert json.loads(text) == {"a": "</script><!--&\u2028\u2029"}


def test_show_prints_input_both_replies_the_diff_and_reasons(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    run_id = _run_of(p.run("eval").out)
    r = p.run("show", run_id, "q-03")
    assert r.code == 0, r.err
    assert "case q-03 of run " + run_id in r.out
    assert "verdicts: regressed, flipped, failed" in r.out
    assert "  [user]\n    Answer: no idea\n" in r.out
    assert "  reply:\n    Answer: no idea\n" in r.out
    assert "  baseline reply:\n    Answer: tall mountain peak\n" in r.out
    assert "    Answer: [-tall mountain peak-]{+no idea+}\n" in r.out
    assert "    says-it  FAIL  0.00  " in r.out and "    short  PASS  1.00  " in r.out
    assert "\x1b[" not in r.out  # not a terminal: no colour
    only = p.run("show", run_id, "q-03", "--scorer", "short")
    assert "says-it  FAIL" not in only.out and "short  PASS" in only.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["show", "RUN", "nope"], "has no case 'nope'"),
        (["show", "RUN", "q-01", "--scorer", "nope"], "has no scorer 'nope'"),
        (["show", "no-such-run", "q-01"], "no run 'no-such-run'"),
        (["report", "no-such-run", "-o", "x.html"], "no run 'no-such-run'"),
    ],
)
def test_show_and_report_refuse_unknown_names(
    git_project: Project, argv: list[str], message: str
) -> None:
    p = report_project.flipped(git_project)
    run_id = _run_ids(p)[-1]
    r = p.run(*[run_id if a == "RUN" else a for a in argv])
    assert r.code == 2 and message in r.err
    assert not (p.root / "x.html").exists()


def test_view_refuses_a_non_loopback_bind(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    for host in ("0.0.0.0", "192.168.1.10", "localhost.example.com", "::"):
        r = p.run("view", "--host", host, "--no-browser")
        assert r.code == 2, host
        assert "loopback address only" in r.err
        assert r.out == ""


def test_a_key_a_model_echoes_never_reaches_the_report(
    git_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "sk-live-0123456789abcdefSECRET"
    monkeypatch.setenv("DEMO_API_KEY", key)
    p = report_project.flipped(git_project)
    p.write("evals/data/qa.jsonl", report_project.dataset([("k-1", f"my key is {key}", [])]))
    run_id = _run_of(p.run("eval", "--html", "r.html").out)
    text = p.read("r.html")
    assert key not in text and "my key is ***" in text
    shown = p.run("show", run_id, "k-1")
    assert key not in shown.out and "my key is ***" in shown.out


def test_repeats_params_and_the_baseline_ref_show_as_such(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    p.write("prompts/qa.yaml", report_project.WORSE + "params: {temperature: 0.5}\n")
    r = p.run("eval", "--repeat", "2", "--baseline-ref", "HEAD", "--html", "r.html")
    data = json.loads(parse(p.read("r.html")).data["report-data"])
    case = next(c for c in data["cases"] if c["id"] == "q-03")
    assert [rep["r"] for rep in case["repeats"]] == [0, 1]
    text = p.read("r.html")
    assert "<li><code>temperature: added, 0.5</code></li>" in text
    head = p.git("rev-parse", "HEAD").strip()
    assert f"evals/baselines/qa.json at {head[:12]}" in text
    run_id = _run_of(r.out)
    assert p.run("report", run_id, "--baseline-ref", "HEAD", "-o", "again.html").code == 0
    assert f"evals/baselines/qa.json at {head[:12]}" in p.read("again.html")
    shown = p.run("show", run_id, "q-03").out
    assert "\nrepeat 0: tokens" in shown and "\nrepeat 1: tokens" in shown


def test_a_browser_opens_only_for_a_person_at_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    from promptctl.reporters import viewer

    display = {"DISPLAY": ":0"}
    assert not viewer.browser_available({**display, "CI": "true"})
    assert not viewer.browser_available({**display, "PYTEST_CURRENT_TEST": "x"})
    assert not viewer.browser_available(display)  # stdout is not a terminal under pytest


def test_masking_a_header_in_a_reply_keeps_the_data_block_valid(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    q = 'curl -H authorization="tok-123456" -H "x-api-key: \\"abc\\"" done'
    p.write("evals/data/qa.jsonl", report_project.dataset([("h-1", q, [])]))
    p.write("prompts/qa.yaml", report_project.GOOD)  # echoes the question
    p.run("eval", "--html", "r.html")
    data = json.loads(parse(p.read("r.html")).data["report-data"])  # still valid JSON
    (case,) = data["cases"]
    (rep,) = case["repeats"]
    assert "tok-123456" not in rep["out"] and 'authorization="***"' in rep["out"]
    assert "tok-123456" not in p.read("r.html")


ECHO = 'model: mock/echo\ninput: {q: {type: string}}\ntemplate: "Answer: {{ q }}"\n'
TWO_SCORERS = (
    "prompt: echo\ndataset: data/echo.jsonl\nscorers:\n"
    '  - {id: has, type: contains, value: "{{ expected }}"}\n'
    '  - {id: rx, type: regex, value: "^Answer"}\n'
)


def test_a_report_says_the_verdict_its_eval_decided(git_project: Project) -> None:
    """The eval's Holm family spans every suite it ran: alone, one suite's p-value would be
    called a regression that the eval (4 tests) found inconclusive. `report` of the run repeats
    the eval's decision, not a new one over one suite."""
    p = git_project
    rows = "".join(
        json.dumps({"id": f"c{i:02d}", "vars": {"q": f"item{i}"}, "expected": f"item{i}"}) + "\n"
        for i in range(40)
    )
    p.write("prompts/echo.yaml", ECHO, dedent=False)
    p.write("evals/data/echo.jsonl", rows, dedent=False)
    for suite in ("a", "b"):
        p.write(f"evals/{suite}.yaml", TWO_SCORERS, dedent=False)
    assert p.run("eval", "--update-baseline").code == 0
    p.commit("baselines")
    dropped = ", ".join(f"'item{i}'" for i in range(1, 7))
    degraded = ECHO.replace(
        '"Answer: {{ q }}"',
        f'"{{% if q in [{dropped}] %}}no{{% else %}}Answer: {{{{ q }}}}{{% endif %}}"',
    )
    p.write("prompts/echo.yaml", degraded, dedent=False)
    r = p.run("eval", "a", "b", "--format", "json")
    data = json.loads(r.out)
    said = {s["suite"]: s["gate"]["verdict"] for s in data["suites"]}
    assert said["a"] == "inconclusive", said  # 6 of 40 flipped, Holm over 4 tests
    run_a = next(s["run_id"] for s in data["suites"] if s["suite"] == "a")
    assert p.run("report", run_a, "-o", "a.html").code == 0
    page = p.read("a.html")
    assert "<title>promptctl report: inconclusive</title>" in page, page[:300]
