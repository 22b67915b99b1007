"""Untrusted text cannot drive a terminal, a markdown report, a spreadsheet or a JUnit parser."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

import pytest

from promptctl.escaping import csv_cell, markdown_cell, xml_text
from promptctl.redaction import MASK, printable, redact
from tests.conftest import FAKE_KEY

ESC = "\x1b"
HOSTILE = [
    pytest.param(f"{ESC}[31mred{ESC}[0m", "[31mred[0m", id="CSI colour"),
    pytest.param(f"{ESC}[2J{ESC}[Hwiped", "[2J[Hwiped", id="clear screen"),
    pytest.param(
        f"{ESC}]8;;https://evil.example/{ESC}\\click{ESC}]8;;{ESC}\\",
        "]8;;https://evil.example/\\click]8;;\\",
        id="OSC 8 hyperlink",
    ),
    pytest.param(f"{ESC}]52;c;cm0gLXJmIH4K\x07ok", "]52;c;cm0gLXJmIH4Kok", id="OSC 52 clipboard"),
    pytest.param("\x9b31mC1 CSI\x9d0;title\x9c", "31mC1 CSI0;title", id="C1 CSI OSC ST"),
    pytest.param("\x90DCS\x9c\x85NEL", "DCSNEL", id="C1 DCS NEL"),
    pytest.param("abc\rXYZ\x08\x08\x7f", "abcXYZ", id="CR backspace DEL"),
    pytest.param("tab\tand\nnewline", "tab\tand\nnewline", id="tab and newline kept"),
    pytest.param("access\u202e\u2066level\u2069\u202c ok", "accesslevel ok", id="bidi overrides"),
]


@pytest.mark.parametrize(("text", "expected"), HOSTILE)
def test_printable_strips_escape_sequences_and_control_characters(text: str, expected: str) -> None:
    out = printable(text)
    assert out == expected
    assert not any(0x80 <= ord(c) <= 0x9F or (ord(c) < 0x20 and c not in "\t\n") for c in out)


def test_printable_keeps_ordinary_unicode() -> None:
    text = "Résumé — 日本語 🙂 שלום عربي \u200f"
    assert printable(text) == text


def test_redact_masks_the_key_in_every_place_an_error_carries_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    texts = [
        f"Authorization: Bearer {FAKE_KEY}",
        f"{{'x-api-key': '{FAKE_KEY}'}}",
        f"https://user:{FAKE_KEY}@example.invalid/v1",
        f"request failed: key={FAKE_KEY}",
    ]
    for text in texts:
        out = redact(text)
        assert FAKE_KEY not in out, out
        assert MASK in out


def test_redact_masks_header_values_even_when_not_in_the_environment() -> None:
    out = redact("headers: {'x-api-key': 'anthropic-secret-value', 'accept': 'json'}")
    assert "anthropic-secret-value" not in out
    assert "'accept': 'json'" in out
    assert "Bearer ***" in redact("authorization header was Bearer abcdefgh12345678")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a|b", "a\\|b"),
        ("`code`", "\\`code\\`"),
        ("line1\nline2\r\nline3\rline4", "line1<br>line2<br>line3<br>line4"),
        ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
        ("<script>x</script>", "&lt;script&gt;x&lt;/script&gt;"),
        ("[click](javascript:alert(1))", "\\[click\\](javascript:alert(1))"),
        ("**bold** _it_ ~~s~~", "\\*\\*bold\\*\\* \\_it\\_ \\~\\~s\\~\\~"),
        ("ping @octo/team and #1", "ping &#64;octo/team and &#35;1"),
        ("back\\slash|", "back\\\\slash\\|"),
        ("&amp; stays literal", "&amp;amp; stays literal"),
        (f"{ESC}[31mred", "\\[31mred"),
        ("tab\there", "tab here"),
        ("plain words 1.5", "plain words 1.5"),
    ],
)
def test_markdown_cell_is_literal_single_line_and_inert(text: str, expected: str) -> None:
    out = markdown_cell(text)
    assert out == expected
    assert "\n" not in out and "\r" not in out


def test_markdown_cell_keeps_a_table_row_to_its_columns() -> None:
    row = "| " + markdown_cell("a | b") + " | " + markdown_cell("c\n| d | e |") + " |"
    # unescaped pipes are the only column separators a renderer sees
    assert row.replace("\\|", "").count("|") == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1+1", "'\uff1d1+1"),
        ("safe = fine", "safe = fine"),
        ("", ""),
    ],
)
def test_csv_cell_neutralises_formulas(text: str, expected: str) -> None:
    assert csv_cell(text) == expected


def test_csv_cell_round_trips_through_the_csv_module() -> None:
    buf = io.StringIO()
    csv.writer(buf).writerow([csv_cell('=cmd|" /C calc"!A0'), csv_cell('ok, "quoted"')])
    buf.seek(0)
    assert next(csv.reader(buf)) == ['\'=cmd|" /C calc"!A0', 'ok, "quoted"']


def test_xml_text_removes_what_xml_cannot_carry_and_keeps_the_rest() -> None:
    text = "ok\x00\x01\x0b\x0c\x1b[31m\x7f\x85\x9f\ud800\ufffe\uffff<&>\t\n\r🙂é"
    out = xml_text(text)
    assert out == "ok[31m<&>\t\n\r🙂é"
    case = ET.Element("testcase", name=out)
    ET.SubElement(case, "failure", message=out).text = out
    parsed = ET.fromstring(ET.tostring(case, encoding="unicode"))
    assert parsed.find("failure").text == out.replace("\r", "\n")


def test_raw_hostile_text_would_break_junit_xml() -> None:
    # the reason xml_text exists: the writer accepts it, every parser refuses the result
    element = ET.Element("failure")
    element.text = "form\x0cfeed"
    with pytest.raises(ET.ParseError):
        ET.fromstring(ET.tostring(element, encoding="unicode"))
