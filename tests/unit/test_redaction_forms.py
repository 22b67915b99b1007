"""A key with a line break, as exception texts quote it: every form is masked (issue 20)."""

from __future__ import annotations

import json

import pytest

from promptctl.redaction import redact

KEY = "sk-test-FAKEKEY-1234567890abcdef\nLEAKCHECK-abc-defgh"


@pytest.mark.parametrize(
    "shown",
    [
        # h11's LocalProtocolError quoted the header as bytes
        f"Illegal header value {('Bearer ' + KEY).encode()!r}",
        f"value {KEY!r}",
        f"json {json.dumps(KEY)}",
        f"raw {KEY}",
        f"latin-1 {('Bearer ' + KEY).encode('latin-1')!r}",
        f"utf-16 escaped {KEY.encode('unicode_escape').decode()}",
    ],
)
def test_every_form_of_a_key_with_a_line_break_is_masked(
    monkeypatch: pytest.MonkeyPatch, shown: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    out = redact(shown)
    assert "LEAKCHECK" not in out and "FAKEKEY" not in out, out


def test_a_bearer_token_in_a_repr_is_masked_with_its_escapes_even_unknown() -> None:
    out = redact(repr(b"Bearer sk-abcdefghijklmnop\nLEAKCHECK-abcdefgh"))
    assert "LEAKCHECK" not in out and "abcdefghijklmnop" not in out, out
