"""An internal error leaves `.promptctl/crash.log` (redacted) and says where it is."""

from __future__ import annotations

import platform
from typing import Any

import pytest

from promptctl import _version
from promptctl.cli import app, main
from promptctl.redaction import redact_argv
from tests.conftest import FAKE_KEY, Project

SECRET_ARG = "sk-proj-ARGVSECRET0123456789abcdef"


@pytest.fixture
def buggy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command hits a bug that holds the environment's key in its message."""
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_KEY)

    def broken(argv: list[str]) -> Any:
        def run(**kwargs: Any) -> Any:
            raise RuntimeError(f"boom with {FAKE_KEY}")

        return run

    monkeypatch.setattr(app, "app_for", broken)


ARGV = ["run", "p", "--var", f"api_key={SECRET_ARG}", "--var", "ticket=hello"]


def test_internal_error_writes_a_redacted_crash_log_and_says_where(
    project: Project, buggy: None
) -> None:
    project.write("promptctl.yaml", "providers: {}\n")
    r = project.run(*ARGV)
    assert r.code == 3
    assert r.err == (
        "promptctl: internal error: RuntimeError: boom with ***\n"
        "  hint: details are in .promptctl/crash.log; please attach it to a bug report\n"
    )
    log = (project.root / ".promptctl" / "crash.log").read_text(encoding="utf-8")
    assert f"promptctl: {_version.__version__}\n" in log
    assert f"platform: {platform.platform()}\n" in log
    assert f"python: {platform.python_implementation()} {platform.python_version()}" in log
    assert "command: promptctl run p --var 'api_key=***' --var ticket=hello\n" in log
    assert "Traceback (most recent call last):" in log
    assert log.rstrip().endswith("RuntimeError: boom with ***")
    assert FAKE_KEY not in log and SECRET_ARG not in log


def test_the_crash_log_goes_to_the_configured_state_dir_from_a_subdirectory(
    project: Project, buggy: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("promptctl.yaml", "paths: {state: var/state}\n")
    (project.root / "prompts").mkdir()
    monkeypatch.chdir(project.root / "prompts")
    assert main(ARGV) == 3
    assert "details are in ../var/state/crash.log" in project.capsys.readouterr().err
    assert (project.root / "var" / "state" / "crash.log").is_file()
    assert not (project.root / ".promptctl").exists()


def test_outside_a_project_nothing_is_written_and_the_message_says_so(
    project: Project, buggy: None
) -> None:
    r = project.run(*ARGV)
    assert r.code == 3
    assert r.err.endswith(
        "  hint: not in a promptctl project, so no crash log was written; rerun with --debug "
        "for the traceback, and please report it\n"
    )
    assert list(project.root.iterdir()) == []


def test_a_user_error_writes_no_crash_log(project: Project) -> None:
    project.write("promptctl.yaml", "providers: {}\n")
    r = project.run("render", "nope")
    assert r.code == 2
    assert not (project.root / ".promptctl").exists()


@pytest.mark.parametrize(
    ("argv", "shown"),
    [
        (["--var", "OPENAI_API_KEY=abcdefgh123"], "--var 'OPENAI_API_KEY=***'"),
        (["--var=token=abc"], "'--var=token=***'"),
        (["--api-key", "hunter2hunter2"], "--api-key '***'"),
        (["--var", "password=pw"], "--var 'password=***'"),
        (["--var", f"note=see {SECRET_ARG}"], "--var 'note=see ***'"),
        (["--var", "ticket=my key is lost"], "--var 'ticket=my key is lost'"),
        (["https://user:pass@host/x"], "https://user:***@host/x"),
    ],
)
def test_command_lines_are_redacted(argv: list[str], shown: str) -> None:
    assert redact_argv(argv) == shown
