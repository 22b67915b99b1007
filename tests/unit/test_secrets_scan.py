"""The leak detector itself must be able to fail: every encoding it claims is detected."""

from __future__ import annotations

import base64
import gzip
import json
import urllib.parse
from pathlib import Path

import pytest

from tests.conftest import FAKE_KEY
from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir, find_secret

KEY = FAKE_KEY.encode()


@pytest.mark.parametrize(
    "leak",
    [
        FAKE_KEY,
        f"Authorization: Basic {base64.b64encode(b'user:' + KEY).decode()}",
        f"Basic {base64.b64encode(b':' + KEY).decode()}",
        f"blob {base64.b64encode(b'prefix-' + KEY + b'-suffix').decode()}",
        f"blob {base64.b64encode(b'xy' + KEY + b'z').decode()}",
        "blob " + base64.urlsafe_b64encode(b'{"k":"' + KEY + b'"}').decode(),
        f"?api_key={urllib.parse.quote(FAKE_KEY, safe='')}",
        urllib.parse.quote(FAKE_KEY, safe="").lower(),
        json.dumps({"k": FAKE_KEY}),
        json.dumps({"k": FAKE_KEY}, ensure_ascii=True).replace("-", "\\u002d"),
        "".join(f"\\u{ord(c):04x}" for c in FAKE_KEY),
        KEY.hex(),
        KEY.hex().upper(),
        FAKE_KEY.encode("utf-16-le").decode("latin-1"),
        FAKE_KEY[::-1],
        "masked sk-...FAKEKEY-1234567890ab...",
        "".join(f"&#{ord(c)};" for c in FAKE_KEY),
        "%73%6B-test-%46AKEKEY-1234567890abcdef",
    ],
)
def test_every_encoding_of_the_key_is_found(leak: str) -> None:
    assert find_secret(leak) is not None, leak
    with pytest.raises(AssertionError, match="the key leaked"):
        assert_no_secret("clean", leak)


def test_clean_output_passes() -> None:
    assert_no_secret("Authorization: Bearer ***", b"sk-test-***", None, "FAKE")


def test_files_are_scanned_including_compressed_and_nested(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "clean.txt").write_text("nothing here")
    assert_no_secret_in_dir(tmp_path)
    (tmp_path / "a" / "b" / "row.gz").write_bytes(gzip.compress(b"header " + KEY))
    with pytest.raises(AssertionError, match=r"a/b/row\.gz"):
        assert_no_secret_in_dir(tmp_path)
