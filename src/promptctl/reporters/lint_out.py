"""Lint findings as text, JSON or GitHub workflow commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from promptctl.escaping import undefanged
from promptctl.lint.findings import Finding, Severity
from promptctl.redaction import printable


def _gh_escape(text: str, *, prop: bool = False) -> str:
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    if prop:
        text = text.replace(":", "%3A").replace(",", "%2C")
    return text


def write(findings: Sequence[Finding], fmt: str) -> None:
    out = sys.stdout
    if fmt == "json":
        out.write(
            json.dumps(
                [
                    {
                        "code": f.code,
                        "rule": f.rule.name,
                        "severity": f.severity.value,
                        "path": f.where.path if f.where else None,
                        "line": f.where.line if f.where else None,
                        "col": f.where.col if f.where else None,
                        "message": f.message,
                        "hint": f.hint,
                    }
                    for f in findings
                ],
                indent=2,
            )
            + "\n"
        )
        return
    for f in findings:
        if fmt == "github":
            level = "error" if f.severity is Severity.ERROR else "warning"
            props = []
            if f.where:
                props.append(f"file={_gh_escape(f.where.path, prop=True)}")
                if f.where.line:
                    props.append(f"line={f.where.line}")
                if f.where.col:
                    props.append(f"col={f.where.col}")
            props.append(f"title={_gh_escape(f'{f.code} {f.rule.name}', prop=True)}")
            msg = f.message + (f" (hint: {f.hint})" if f.hint else "")
            line = f"::{level} {','.join(props)}::{_gh_escape(printable(msg))}"
            # a real command: past the CLI's defanging, with any legacy `##[` inside made inert
            undefanged(out).write(line.replace("##[", "#\u200b#[") + "\n")
        else:
            where = f"{f.where}: " if f.where else ""
            out.write(
                printable(f"{where}{f.severity.value}: {f.code} [{f.rule.name}] {f.message}") + "\n"
            )
            if f.hint:
                out.write(printable(f"  hint: {f.hint}") + "\n")
    errors = sum(f.severity is Severity.ERROR for f in findings)
    warnings = len(findings) - errors
    if fmt == "text":
        sys.stderr.write(
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}\n"
        )
