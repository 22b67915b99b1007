"""Release readiness (issue 20): the release workflow publishes with trusted publishing only,
after the same release check .ci/run runs; the changelog and the install docs agree with it."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from promptctl._version import __version__
from promptctl.project import scaffold

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / ".github" / "workflows" / "release.yml"


def _release() -> dict:
    flow = yaml.safe_load(RELEASE.read_text(encoding="utf-8"))
    flow["on"] = flow.pop(True, flow.get("on"))  # YAML 1.1 reads the key `on` as True
    return flow


def test_the_release_workflow_builds_on_a_tag_and_publishes_without_a_token() -> None:
    flow = _release()
    text = RELEASE.read_text(encoding="utf-8")
    assert flow["on"] == {"push": {"tags": ["v*"]}}
    assert flow["permissions"] == {}
    build, publish = flow["jobs"]["build"], flow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert any(".ci/release-check" in step.get("run", "") for step in build["steps"])
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (step,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert "with" not in step  # no password, no token: trusted publishing
    assert "secrets." not in text and "password:" not in text.lower()
    for uses in re.findall(r"uses: (\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", uses), uses


def test_the_ci_entry_point_runs_the_release_check() -> None:
    run = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pip install -q build twine" in run and "\n.ci/release-check" in run
    check = (REPO / ".ci" / "release-check").read_text(encoding="utf-8")
    for step in ("-m build", "twine check --strict", "-m venv", "--version"):
        assert step in check, step


def test_the_changelog_has_the_current_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(__version__)}\]", changelog, re.MULTILINE)


def test_getting_started_says_how_to_install_from_a_checkout() -> None:
    page = (REPO / "docs" / "getting-started.md").read_text(encoding="utf-8")
    assert "pip install promptctl-cli" in page
    assert "Until the first release is on PyPI" in page and "pip install ./promptctl" in page


def test_the_generated_workflow_pins_the_version_that_wrote_it() -> None:
    for name in ("github-workflow.yml", "github-workflow-sharded.yml"):
        text = scaffold.render_template(name)
        assert f"PROMPTCTL: promptctl-cli=={__version__}" in text, name
