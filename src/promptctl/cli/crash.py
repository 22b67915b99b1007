"""The crash log: an internal error's report in `.promptctl/crash.log`, as pre-commit keeps one.

Written at the CLI edge only (a bug, not a user error), so a user can attach it to a report
without a `--debug` rerun. Everything in it passes through redaction.py: the command line, the
message and the traceback. Outside a project nothing is written, and the message says so.
"""

from __future__ import annotations

import os
import platform
import sys
import traceback
from pathlib import Path

CRASH_LOG = "crash.log"


def project_state_dir(cwd: Path | None = None) -> Path | None:
    """The state directory of the project around `cwd`, or None outside a project."""
    from promptctl.project import config

    here = (cwd or Path.cwd()).resolve()
    root = config.find_root(here)
    if not ((root / config.CONFIG_FILE).is_file() or (root / "prompts").is_dir()):
        return None  # a bare git repository or a random directory: not ours to write in
    try:
        return config.load_project(root=root).state_dir
    except Exception:  # noqa: BLE001 - a crash must still be logged; promptctl.yaml may be the cause
        return root / ".promptctl"


def report(error: BaseException, argv: list[str]) -> str:
    """The crash report's text: version, platform, Python, command line, traceback; redacted."""
    from datetime import datetime, timezone

    from promptctl._version import __version__
    from promptctl.redaction import redact, redact_argv

    lines = [
        "promptctl crash report (attach it to an issue; secrets are masked)",
        f"time: {datetime.now(timezone.utc).isoformat(timespec='seconds')}",
        f"promptctl: {__version__}",
        f"platform: {platform.platform()}",
        f"python: {platform.python_implementation()} {platform.python_version()} "
        f"({sys.executable})",
        f"command: {redact_argv(['promptctl', *argv])}",
        "",
        "".join(traceback.format_exception(error)).rstrip("\n"),
        "",
    ]
    return redact("\n".join(lines))


def write(error: BaseException, argv: list[str]) -> str:
    """Write the crash log; the hint line that says where it went (or why nowhere)."""
    state_dir = project_state_dir()
    if state_dir is None:
        return (
            "not in a promptctl project, so no crash log was written; rerun with --debug for "
            "the traceback, and please report it"
        )
    from promptctl.errors import PromptctlError
    from promptctl.project.files import write_atomic

    path = state_dir / CRASH_LOG
    try:
        write_atomic(path, report(error, argv))
    except PromptctlError as e:
        return f"the crash log could not be written ({e.message}); rerun with --debug"
    shown = os.path.relpath(path)
    return f"details are in {shown}; please attach it to a bug report"
