"""Rollout bucketing: the published test vectors, the share of keys per percent, monotonicity."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from promptctl.labels.rollout import bucket, threshold, variant_of

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rollout.md"
# | name | label | salt | key | bucket |  rows of the table in docs/rollout.md
VECTOR = re.compile(r"^\| `([^`]*)` \| `([^`]*)` \| `([^`]*)` \| `([^`]*)` \| (\d+) \|$", re.M)


def test_the_test_vectors_in_the_docs_hold():
    vectors = VECTOR.findall(DOCS.read_text(encoding="utf-8"))
    assert len(vectors) >= 6
    for name, label, salt, key, expected in vectors:
        assert bucket(name, label, salt, key) == int(expected), (name, label, salt, key)


def test_bucket_is_sha256_first_8_bytes_mod_10000():
    import hashlib

    digest = hashlib.sha256(b"summarize\0production\0a1b2c3d4\0user-42").digest()
    assert bucket("summarize", "production", "a1b2c3d4", "user-42") == (
        int.from_bytes(digest[:8], "big") % 10_000
    )


@pytest.mark.parametrize("percent", [5, 25, 50])
def test_share_of_200k_keys_on_the_candidate_is_within_0_3_points(percent):
    n = 200_000
    on = sum(
        variant_of(bucket("summarize", "production", "s4lt", f"user-{i}"), percent) == "candidate"
        for i in range(n)
    )
    assert abs(100 * on / n - percent) <= 0.3


def test_raising_the_percent_never_moves_a_key_back_to_stable():
    keys = [f"k{i}" for i in range(20_000)]
    buckets = [bucket("p", "production", "salt", k) for k in keys]
    at5 = {k for k, b in zip(keys, buckets, strict=True) if variant_of(b, 5) == "candidate"}
    at25 = {k for k, b in zip(keys, buckets, strict=True) if variant_of(b, 25) == "candidate"}
    assert at5 and at5 <= at25
    assert threshold(100) == 10_000 and threshold(0.01) == 1


def test_salt_label_and_name_each_change_the_slice():
    keys = [str(i) for i in range(2000)]
    base = [bucket("p", "production", "s", k) for k in keys]
    for other in (
        [bucket("p", "production", "t", k) for k in keys],
        [bucket("p", "staging", "s", k) for k in keys],
        [bucket("q", "production", "s", k) for k in keys],
    ):
        assert sum(a == b for a, b in zip(base, other, strict=True)) < 20
