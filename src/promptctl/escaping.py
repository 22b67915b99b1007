"""Untrusted text (model outputs, dataset text, provider error bodies) made inert for reports.

Each reporter format has its own way of being driven by data: a `|` ends a markdown table cell
and `<img src=…>` renders on GitHub; a CSV cell starting with `=` is a formula in a spreadsheet;
a form feed makes a JUnit XML file unparseable. Terminal text goes through
`promptctl.redaction.printable` instead.
"""

from __future__ import annotations

import re

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
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


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
