"""The HTML report and `promptctl view` in headless Chromium (issue 16): no network request,
filters and the side-by-side diff work, hostile strings run no script, view stays on loopback."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import report_project
from tests.browser.conftest import Chromium
from tests.conftest import Project

REPO = Path(__file__).resolve().parents[2]
DOCS_SHOTS = os.environ.get("PROMPTCTL_DOCS_SCREENSHOTS")  # set to refresh docs/images/


class Watch:
    """Everything a page asks for or complains about."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def example(p: Project) -> Path:
    """The repository's own example, committed with its baselines, then a prompt edit that
    truncates long tickets: the critical case t-017 loses the words that route it and flips."""
    shutil.copy(REPO / "promptctl.yaml", p.root / "promptctl.yaml")
    for tree in ("prompts", "evals"):
        shutil.copytree(REPO / tree, p.root / tree)
    p.write(".gitignore", ".promptctl/\n")
    p.commit("example")
    classify = p.read("prompts/classify.yaml")
    edited = classify.replace("{{ ticket }}", "{{ ticket|truncate(48) }}")
    assert edited != classify
    p.write("prompts/classify.yaml", edited)
    r = p.run("eval", "--html", "report.html")
    assert r.code == 1, r.out + r.err
    return p.root / "report.html"


def shoot(page: Page, artifacts: Path, name: str, selector: str | None = None) -> None:
    """A screenshot (of the first screen, or of one element) kept as a test artifact; with
    PROMPTCTL_DOCS_SCREENSHOTS=1 also written where docs/getting-started.md shows it."""
    target = page.locator(selector) if selector else page
    # A loaded 2-core machine can take seconds to settle fonts before the capture (seen once).
    options = {"timeout": 60_000, "animations": "disabled", "caret": "hide"}
    target.screenshot(path=str(artifacts / name), **options)
    if DOCS_SHOTS:
        target.screenshot(path=str(REPO / "docs" / "images" / name), **options)


def no_handler_attributes(page: Page) -> bool:
    return page.evaluate(
        "() => ![...document.querySelectorAll('*')].some("
        "e => [...e.attributes].some(a => a.name.startsWith('on')))"
    )


def test_report_from_disk_makes_no_request_and_shows_the_verdicts(
    git_project: Project, chromium: Chromium, artifacts: Path
) -> None:
    report = example(git_project)
    chromium.run(lambda page: _verdicts(page, report, artifacts))


def _verdicts(page: Page, report: Path, artifacts: Path) -> None:
    watch = Watch(page)
    page.goto(report.as_uri())
    expect(page.locator("#f-count")).to_have_text("28 of 28 cases")
    assert watch.requests == [report.as_uri()]  # the file itself, nothing else
    assert watch.errors == [] and watch.dialogs == []  # the CSP let exactly our script run
    expect(page.locator("h1")).to_have_text("promptctl eval: failed")
    suites = page.locator("section.suite h2")
    expect(suites.nth(0)).to_have_text("classify failed")
    expect(suites.nth(1)).to_have_text("summarize passed")
    gate_rows = page.locator("#suite-1 table.gate tbody tr")
    expect(gate_rows.nth(0)).to_have_text(re.compile(r"^one-word\s*FAILED\s*100\.0%\s*95\.0%"))
    expect(page.locator("#suite-1 ul.why")).to_contain_text("critical case 't-017' failed")
    diff = page.locator("#suite-1 details.prompt-change pre")
    expect(diff).to_contain_text("+Ticket: {{ ticket|truncate(48) }}")
    shoot(page, artifacts, "report.png")


def test_filters_sort_and_the_side_by_side_diff(
    git_project: Project, chromium: Chromium, artifacts: Path
) -> None:
    report = example(git_project)
    chromium.run(lambda page: _filters(page, report, artifacts))


def _filters(page: Page, report: Path, artifacts: Path) -> None:
    page.goto(report.as_uri())
    count, rows = page.locator("#f-count"), page.locator("#case-rows > tr")
    page.select_option("#f-verdict", "flipped")
    expect(count).to_have_text("1 of 28 cases")
    expect(rows.locator("button.case")).to_have_text(["t-017"])
    page.select_option("#f-scorer", "faithful")  # a summarize scorer: nothing flipped there
    expect(count).to_have_text("0 of 28 cases")
    page.select_option("#f-scorer", "team")
    expect(count).to_have_text("1 of 28 cases")
    page.select_option("#f-verdict", "failed")
    expect(rows.locator("button.case")).to_have_text(["t-017", "t-018"])
    page.select_option("#f-scorer", "")
    page.select_option("#f-tag", "billing")
    expect(count).to_have_text(re.compile(r"^[1-9] of 28 cases$"))
    page.select_option("#f-tag", "")
    page.select_option("#f-verdict", "")
    page.select_option("#f-scorer", "")
    page.fill("#f-text", "SSO")
    expect(count).to_have_text(re.compile(r"^[1-9] of 28 cases$"))
    page.fill("#f-text", "")
    page.click("#sort-change")  # the largest drop first
    first = rows.first
    expect(first.locator("td").last).to_have_text("-1.00")
    case_id = first.locator("button.case").inner_text()
    first.locator("button.case").click()
    detail = page.locator("#case-detail")
    expect(detail.locator("h3")).to_have_text(case_id)
    base = detail.locator(".side-by-side .base pre").first
    current = detail.locator(".side-by-side .current pre").first
    expect(base.locator("del")).to_have_count(1)
    expect(current.locator("ins")).to_have_count(1)
    assert base.inner_text() != current.inner_text()
    expect(base.locator("del")).to_have_text("account")
    expect(detail.locator(".msg pre")).to_contain_text("Ticket: ")  # the rendered input
    expect(detail).to_contain_text("team FAIL")
    shoot(page, artifacts, "report-case.png", "#case-detail")


def test_hostile_strings_run_no_script(git_project: Project, chromium: Chromium) -> None:
    p = report_project.hostile(git_project)
    p.run("eval", "--html", "hostile.html")
    chromium.run(lambda page: _inert(page, p.root / "hostile.html"))


def _inert(page: Page, report: Path) -> None:
    watch = Watch(page)
    page.goto(report.as_uri())
    buttons = page.locator("#case-rows button.case")
    expect(buttons).to_have_count(len(report_project.HOSTILE))
    shown = set(buttons.all_inner_texts())
    assert shown == {f"x{i}-{h}" for i, h in enumerate(report_project.HOSTILE)}
    for i in range(len(report_project.HOSTILE)):
        page.locator("#case-rows button.case").nth(i).click()
        expect(page.locator("#case-detail .side-by-side")).to_have_count(1)
    page.fill("#f-text", report_project.HOSTILE[1])
    page.select_option("#f-tag", index=1)
    assert watch.dialogs == [] and watch.errors == []
    assert watch.requests == [report.as_uri()]  # no image, no frame, no link followed
    assert page.locator("script").count() == 2 and page.locator("img, svg, iframe, a").count() == 0
    assert no_handler_attributes(page)


@pytest.fixture
def viewer(git_project: Project) -> Iterator[tuple[str, subprocess.Popen[str], Project]]:
    p = report_project.flipped(git_project)
    p.run("eval", "-q")  # a second run to switch to
    proc = subprocess.Popen(
        [sys.executable, "-m", "promptctl", "view"],
        cwd=p.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""  # printed once it listens
        match = re.match(r"serving (http://127\.0\.0\.1:\d+/) \(read-only; Ctrl-C stops\)$", line)
        assert match, line + (proc.stderr.read() if proc.stderr else "")
        yield match.group(1), proc, p
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_view_serves_on_loopback_switches_runs_and_stops_on_ctrl_c(
    viewer: tuple[str, subprocess.Popen[str], Project], chromium: Chromium
) -> None:
    url, proc, p = viewer
    chromium.run(lambda page: _switch_runs(page, url))
    # Read-only, and only for its own name: another Host (DNS rebinding) is refused.
    for method in ("POST", "PUT", "DELETE"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=b"x", method=method))
        assert e.value.code == 501
        e.value.close()
    bad = urllib.request.Request(url, headers={"Host": "attacker.example"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad)
    assert e.value.code == 403
    e.value.close()
    for path in ("?run=../../etc", "?run=" + str(p.root), "report.html", "../promptctl.yaml"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url + path)
        assert e.value.code == 404, path
        e.value.close()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 0
    assert "stopped" in (proc.stderr.read() if proc.stderr else "")


def _switch_runs(page: Page, url: str) -> None:
    watch = Watch(page)
    page.goto(url)
    links = page.locator("nav.runs a")
    expect(links).to_have_count(2)
    expect(page.locator("nav.runs a[aria-current]")).to_have_text(links.first.inner_text())
    expect(page.locator("h1")).to_have_text("promptctl eval: regressed")
    other = links.nth(1).inner_text()
    links.nth(1).click()
    expect(page.locator("nav.runs a[aria-current]")).to_have_text(other)
    expect(page.locator("#f-count")).to_have_text("12 of 12 cases")
    origin = url.rstrip("/")
    assert watch.requests and all(r.startswith(origin + "/") for r in watch.requests)
    assert watch.errors == [] and watch.dialogs == []


def test_view_refuses_a_non_loopback_bind_before_listening(git_project: Project) -> None:
    p = report_project.flipped(git_project)
    done = subprocess.run(
        [sys.executable, "-m", "promptctl", "view", "--host", "0.0.0.0"],
        cwd=p.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "serves on a loopback address only, not '0.0.0.0'" in done.stderr
