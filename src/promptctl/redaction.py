"""Masks API keys wherever text may leave the process (errors, logs, reports)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

_SECRET_VAR = re.compile(r"(_API_KEY|_KEY|_TOKEN|_SECRET|PASSWORD)$")
_HEADER = re.compile(
    r"(?i)(authorization|x-api-key|api-key)(['\"]?\s*[:=]\s*['\"]?)([^\s'\",}]+( [^\s'\",}]+)?)"
)
# a token and whatever escaped control characters a repr left in it (\\n, \\x0b, \\u2028)
_BEARER = re.compile(
    r"(?i)bearer\s+(?:[A-Za-z0-9._\-~+/=]|\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|[nrt])){8,}"
)
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^@\s/]+@")
MASK = "***"


def secret_values() -> list[str]:
    """Values of environment variables that look like credentials (>= 8 chars)."""
    out = []
    for name, value in os.environ.items():
        if _SECRET_VAR.search(name.upper()) and len(value) >= 8:
            out.append(value)
    return sorted(out, key=len, reverse=True)


def _forms(value: str) -> list[str]:
    """A secret as exception texts can show it: itself, escaped as a repr of str or bytes
    (h11 quoted a header as b'Bearer sk-...\\nrest'), JSON-escaped, and each piece between
    control characters, longest first."""
    import json

    forms = {value, repr(value)[1:-1], json.dumps(value)[1:-1]}
    for encoding in ("utf-8", "latin-1"):
        try:
            forms.add(repr(value.encode(encoding))[2:-1])
        except UnicodeEncodeError:
            continue
    forms.update(p for p in _CONTROL_SPLIT.split(value) if len(p) >= 8)
    return sorted(forms, key=len, reverse=True)


_CONTROL_SPLIT = re.compile(r"[\x00-\x1f\x7f]+")


def redact(text: str, extra: list[str] | None = None) -> str:
    return redactor(extra)(text)


def redactor(extra: list[str] | None = None) -> Callable[[str], str]:
    """`redact` for many strings in a row: the environment's secrets are read once (the HTML
    report masks ~16 strings a case; reading them per string cost 2 s on 1000 cases)."""
    forms = [form for value in (extra or []) + secret_values() if value for form in _forms(value)]

    def mask(text: str) -> str:
        for form in forms:
            if form in text:
                text = text.replace(form, MASK)
        text = _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
        text = _BEARER.sub(f"Bearer {MASK}", text)
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", text)

    return mask


# `--var api_key=...`, `OPENAI_API_KEY=...`: a name that says secret, then its value.
_SECRET_NAME = re.compile(r"(?i)(key|token|secret|password|passwd|credential)s?$")
# Provider key formats (OpenAI sk-..., sk-proj-..., Anthropic sk-ant-...), wherever they appear.
_KEY_LIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}")


def redact_argv(argv: list[str]) -> str:
    """A command line fit for a log: secret-named values, key-shaped words and known secrets
    masked, each argument shell-quoted."""
    import shlex

    out: list[str] = []
    mask_next = False
    for arg in argv:
        if mask_next:
            out.append(MASK)
            mask_next = False
            continue
        if "=" not in arg and arg.startswith("--") and _SECRET_NAME.search(arg):
            mask_next = True  # `--api-key VALUE`
        out.append(_KEY_LIKE.sub(MASK, _mask_assignment(arg)))
    return redact(" ".join(shlex.quote(a) for a in out))


def _mask_assignment(arg: str) -> str:
    name, eq, value = arg.partition("=")
    if not eq:
        return arg
    if name.startswith("-") and "=" in value:  # --var=api_key=...
        return f"{name}={_mask_assignment(value)}"
    return f"{name}={MASK}" if _SECRET_NAME.search(name.lstrip("-")) else arg


# C0 and C1 controls but tab and newline; and the bidi embedding/override/isolate controls,
# which reorder what a terminal shows ("Trojan Source"): ordinary RTL text needs none of them.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Untrusted text made safe for a terminal: ESC, OSC, other control bytes and bidi
    overrides removed."""
    return _CONTROL.sub("", text)
