"""Assert that an API key leaked nowhere: not in files under a directory, not in any output,
in any encoding a log line, a header dump, a cache row or a report could carry it.

    from tests.secrets_scan import assert_no_secret, assert_no_secret_in_dir

    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    result = project.run("eval", ...)
    assert_no_secret(result.out, result.err)          # captured output (str or bytes)
    assert_no_secret_in_dir(project.root)             # every file: runs, cache.db, reports

Both default to `tests.conftest.FAKE_KEY`; pass `key=` for another secret. A hit names the form
("base64 of 'user:key'", "URL-encoded", ...) and the file, so the failure says where to look.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import html
import json
import os
import re
import urllib.parse
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.conftest import FAKE_KEY

# The distinctive middle of a key: a "masked" form that still shows most of it is a leak too.
_FRAGMENT_CHARS = 16


def _b64_aligned(data: bytes, alphabet: str) -> list[bytes]:
    """Base64 of `data` inside any larger blob: the characters that depend on `data` alone, for
    each of the three alignments (the first and last characters mix with the neighbours)."""
    enc = base64.b64encode if alphabet == "std" else base64.urlsafe_b64encode
    out = []
    for pad in range(3):
        text = enc(b"\0" * pad + data).rstrip(b"=")
        skip = {0: 0, 1: 2, 2: 3}[pad]  # characters that carry bits of the padding bytes
        end = len(text) - (1 if (pad + len(data)) % 3 else 0)  # last one carries neighbours'
        out.append(text[skip:end])
    return out


def secret_forms(key: str = FAKE_KEY) -> dict[str, bytes]:
    """Every form of `key` to look for, by a name for the failure message."""
    raw = key.encode()
    forms: dict[str, bytes] = {
        "plain": raw,
        "UTF-16-LE": key.encode("utf-16-le"),
        "UTF-16-BE": key.encode("utf-16-be"),
        "URL-encoded": urllib.parse.quote(key, safe="").encode(),
        "URL-encoded (plus)": urllib.parse.quote_plus(key).encode(),
        "JSON-escaped": json.dumps(key)[1:-1].encode(),
        "JSON \\u-escaped": "".join(f"\\u{ord(c):04x}" for c in key).encode(),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
        "reversed": raw[::-1],
        "fragment": raw[
            (len(raw) - _FRAGMENT_CHARS) // 2 : (len(raw) - _FRAGMENT_CHARS) // 2 + _FRAGMENT_CHARS
        ]
        if len(raw) > _FRAGMENT_CHARS + 4
        else raw,
    }
    for what, data in (("key", raw), ("'user:key'", b"user:" + raw), ("':key'", b":" + raw)):
        forms[f"base64 of {what}"] = base64.b64encode(data).rstrip(b"=")
    for alphabet in ("std", "urlsafe"):
        for i, text in enumerate(_b64_aligned(raw, alphabet)):
            forms[f"base64 ({alphabet}, offset {i}) inside a larger blob"] = text
    return forms


_U_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")


def _unescaped_views(blob: bytes) -> dict[str, bytes]:
    """`blob` with JSON \\u escapes, %XX and HTML character references undone, so a key
    escaped only in part (`sk\\u002dtest-...`) is still found."""
    views = {}
    if b"\\u" in blob:
        views["JSON \\u-escapes undone"] = _U_ESCAPE.sub(
            lambda m: chr(int(m.group(1), 16)).encode("utf-8", "surrogatepass"), blob
        )
    if b"%" in blob:
        views["URL escapes undone"] = urllib.parse.unquote_to_bytes(blob)
    if b"&" in blob:
        text = blob.decode("utf-8", "replace")
        views["HTML references undone"] = html.unescape(text).encode("utf-8", "replace")
    return views


def find_secret(data: str | bytes, key: str = FAKE_KEY) -> str | None:
    """The name of the first form of `key` found in `data`, else None (case-sensitive, and
    case-insensitive for the hex and URL forms)."""
    blob = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    lower = blob.lower()
    for name, form in secret_forms(key).items():
        if form in blob or (name in ("hex", "URL-encoded") and form.lower() in lower):
            return name
    for name, view in _unescaped_views(blob).items():
        if key.encode() in view:
            return f"plain, after {name}"
    return None


def assert_no_secret(*outputs: str | bytes | None, key: str = FAKE_KEY) -> None:
    """Fail if any captured output holds `key` in any known form."""
    for i, out in enumerate(outputs):
        if out is None:
            continue
        form = find_secret(out, key)
        assert form is None, f"the key leaked ({form}) into output #{i}: {_context(out, key)}"


def _context(out: str | bytes, key: str) -> str:
    text = out if isinstance(out, str) else out.decode("utf-8", "replace")
    at = text.find(key)
    return repr(text[max(0, at - 60) : at + 60]) if at >= 0 else "(encoded form)"


def _files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


def _decompressed(data: bytes) -> Iterable[bytes]:
    """The file itself, and its decompressed content if it is gzip or zlib."""
    yield data
    try:
        if data[:2] == b"\x1f\x8b":
            yield gzip.decompress(data)
        elif data[:1] == b"\x78":
            yield zlib.decompress(data)
    except (OSError, zlib.error, EOFError, binascii.Error):
        return


def assert_no_secret_in_dir(root: Path, key: str = FAKE_KEY) -> None:
    """Fail if any file under `root` (git objects excluded: they are zlib streams of what the
    working tree already shows) holds `key` in any known form; SQLite -wal/-journal included."""
    for path in _files(root):
        if ".git" in path.relative_to(root).parts:
            continue
        for data in _decompressed(path.read_bytes()):
            form = find_secret(data, key)
            assert form is None, f"the key leaked ({form}) into {path.relative_to(root)}"
