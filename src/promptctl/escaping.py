"""Untrusted text (model outputs, dataset text, provider error bodies) made inert for reports.

Each reporter format has its own way of being driven by data: a `|` ends a markdown table cell
and `<img src=…>` renders on GitHub; a CSV cell starting with `=` is a formula in a spreadsheet;
a form feed makes a JUnit XML file unparseable; a line starting with `::` is a command to the
GitHub Actions runner. Terminal text goes through `promptctl.redaction.printable` instead.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

from promptctl.redaction import printable

_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029")
# Markdown and HTML metacharacters; `@` and `#` are entities so a model output cannot mention a
# user or team (a notification) or link an issue from a PR comment.
_MARKDOWN = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "~": "\\~",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "@": "&#64;",
    "#": "&#35;",
}
_MARKDOWN_RE = re.compile("|".join(re.escape(c) for c in _MARKDOWN))

# OWASP "CSV injection": a spreadsheet evaluates a cell that starts with one of these.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")

# XML 1.0 allows #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF];
# C1 controls (#x7F-#x9F) are allowed but discouraged, and drive terminals that show the file.
# Written as the complement of those ranges (the same set of code points): the negated class
# took 3 ms to compile, on every command inside GitHub Actions (the CLI edge imports this).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def markdown_cell(text: str) -> str:
    """`text` as one markdown table cell: literal, on one line, no HTML, no mentions."""
    text = printable(_NEWLINES.sub("\n", text)).replace("\t", " ")
    text = _MARKDOWN_RE.sub(lambda m: _MARKDOWN[m.group(0)], text)
    return text.replace("\n", "<br>")


def csv_cell(text: str) -> str:
    """`text` as a CSV cell a spreadsheet will not run as a formula (the writer quotes it)."""
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 forbids (and C1 controls) removed.

    Escaping `<`, `&` and quotes stays with the XML writer (ElementTree does it); this removes
    what no escaping can carry: a JUnit file with a form feed or lone surrogate does not parse.
    """
    return _XML_ILLEGAL.sub("", text)


# ----------------------------------------------------------------------------- GitHub Actions

# The Actions runner reads each line of a step's stdout and stderr (split at \n and \r, as
# .NET's ReadLine does) and treats it as a workflow command when, leading whitespace trimmed,
# it starts with "::" (ActionCommand.TryParseV2), or when it holds "##[" anywhere (the legacy
# form). `Trim()` drops every Unicode space; U+180E, U+200B and U+FEFF are added for older
# runtimes that counted them too.
_BLANKS = r"[^\S\r\n]|[\u180e\u200b\ufeff]"
_COMMAND_START = re.compile(rf"(?:(?<=[\r\n])|\A)((?:{_BLANKS})*):(?=:)")
_LINE_HEAD = re.compile(rf"(?:{_BLANKS})*:?\Z")
_LEGACY = "##["
_ZWSP = "\u200b"


def defang_workflow_commands(text: str, *, at_line_start: bool = True) -> str:
    """`text` with no line the GitHub Actions runner would act on as a workflow command
    (`::add-mask::`, `::stop-commands::`, `::set-output`, `##[error]`): a zero-width space goes
    between the two colons (or hashes), so the text reads the same in the job log."""
    text = text.replace(_LEGACY, f"#{_ZWSP}#[")

    def fix(m: re.Match[str]) -> str:
        if m.start() == 0 and not at_line_start:
            return m.group(0)
        return f"{m.group(1)}:{_ZWSP}"

    return _COMMAND_START.sub(fix, text)


class DefangingStream:
    """A text stream that defangs workflow commands in everything written to it, also when a
    command is split over several writes. `undefanged` is the stream below, for the one writer
    that emits real commands (annotations)."""

    def __init__(self, inner: TextIO) -> None:
        self.undefanged = inner
        self._head: str | None = ""  # the current line so far while it may still become "::"
        self._last = ""

    def write(self, text: str) -> int:
        if not text:
            return 0
        shown = text
        if self._last == "#" and text.startswith("#["):
            shown = _ZWSP + shown
        if self._head is not None:
            out = defang_workflow_commands(self._head + shown)[len(self._head) :]
        else:
            out = defang_workflow_commands(shown, at_line_start=False)
        self.undefanged.write(out)
        whole = (self._head or "") + text
        cut = max(whole.rfind("\n"), whole.rfind("\r"))
        if cut >= 0 or self._head is not None:
            tail = whole[cut + 1 :]
            self._head = tail if _LINE_HEAD.match(tail) else None
        self._last = text[-1]
        return len(text)

    def flush(self) -> None:
        self.undefanged.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.undefanged, name)


def undefanged(stream: TextIO) -> TextIO:
    """The stream under a DefangingStream: where real workflow commands are written."""
    return getattr(stream, "undefanged", stream)
