"""The CLI edge: `main(argv) -> int`; the one place errors become exit codes (SPEC §4)."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from promptctl.errors import PromptctlError


def wants_debug(argv: list[str]) -> bool:
    return "--debug" in argv or os.environ.get("PROMPTCTL_DEBUG", "") not in ("", "0")


def report_error(e: PromptctlError, *, debug: bool) -> None:
    from promptctl.redaction import printable, redact

    where = f"{e.where}: " if e.where else ""
    lines = [f"{where}error: {e.message}"]
    if e.hint:
        lines.append(f"  hint: {e.hint}")
    if debug:
        import traceback

        lines.append("".join(traceback.format_exception(e)))
    text = "\n".join(printable(line) for line in "\n".join(lines).splitlines())
    sys.stderr.write(redact(text) + "\n")


def report_bug(e: BaseException, *, debug: bool, argv: list[str] | None = None) -> None:
    """One line and where the crash log went; the traceback too with --debug."""
    from promptctl.cli import crash
    from promptctl.redaction import redact

    text = f"promptctl: internal error: {type(e).__name__}: {e}"
    if debug:
        import traceback

        text += "\n" + "".join(traceback.format_exception(e))
    text += f"\n  hint: {crash.write(e, sys.argv[1:] if argv is None else argv)}"
    sys.stderr.write(redact(text) + "\n")


def _show_warning(default: Any) -> Any:
    """warnings.showwarning that prints promptctl's own warnings as `warning: ...` lines."""

    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        from promptctl.errors import PromptctlWarning

        if not issubclass(category, PromptctlWarning):
            default(message, category, *args, **kwargs)
            return
        from promptctl.redaction import printable, redact

        sys.stderr.write(redact(printable(f"warning: {message}")) + "\n")

    show.promptctl = True  # type: ignore[attr-defined]
    return show


def main(argv: list[str] | None = None) -> int:
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return _main(argv)
    # Inside GitHub Actions every byte on stdout and stderr is read for workflow commands: file
    # names, case ids, provider error bodies and replies all pass through one defanging stream
    # here, whichever command prints them (SPEC §6, issue 19).
    from promptctl.escaping import DefangingStream

    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = DefangingStream(saved[0]), DefangingStream(saved[1])  # type: ignore[assignment]
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = saved
        for stream in saved:
            with contextlib.suppress(Exception):
                stream.flush()


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    given = list(argv)  # as typed, for the crash log
    if argv in (["--version"], ["-V"]):  # before Typer: ~15 ms instead of ~110 ms
        from promptctl._version import __version__

        sys.stdout.write(f"promptctl {__version__}\n")
        return 0
    if argv in (["--help"], ["-h"]):  # the same bytes Typer prints, without building 17 commands
        from promptctl.cli.tophelp import TEXT

        sys.stdout.write(TEXT)
        return 0
    from promptctl.errors import PromptctlError

    debug = wants_debug(argv)
    argv = [a for a in argv if a != "--debug"]
    import warnings

    if not getattr(warnings.showwarning, "promptctl", False):
        warnings.showwarning = _show_warning(warnings.showwarning)
    from promptctl.errors import PromptctlWarning

    # our warnings are messages for the user (a cache set aside), whatever -W says
    warnings.filterwarnings("always", category=PromptctlWarning)
    import typer

    from promptctl.cli.app import app_for, click_exceptions

    clicks = click_exceptions()
    try:
        # standalone_mode=False: Click would turn Ctrl-C into "Aborted!" and exit 1, not 130.
        result = app_for(argv)(args=argv, prog_name="promptctl", standalone_mode=False)
    except SystemExit as e:
        code = e.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("interrupted\n")
        return 130
    except clicks.ClickException as e:  # usage errors: Typer's own message, exit 2
        e.show()
        return e.exit_code
    except PromptctlError as e:
        report_error(e, debug=debug)
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - a bug: one line; the traceback with --debug
        report_bug(e, debug=debug, argv=given)
        return 3
    return result if isinstance(result, int) else 0


def console() -> None:
    sys.exit(main())
