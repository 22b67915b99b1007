from __future__ import annotations

import pytest

from promptctl.errors import UsageError
from promptctl.project import yamlio


def test_locations_are_one_based_and_block_scalars_point_at_their_text() -> None:
    data = yamlio.loads("a: 1\nb:\n  - x\nc: |\n  hello\n", "f.yaml")
    assert str(data.key_loc("a")) == "f.yaml:1:1"
    assert str(data.value_loc("a")) == "f.yaml:1:4"
    assert str(data["b"].item_loc(0)) == "f.yaml:3:5"
    assert str(data.value_loc("c")) == "f.yaml:5:1"


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: 1\na: 2\n", "f.yaml:2:1", "duplicate key 'a'"),
        ("a: &x [1]\nb: *x\n", "f.yaml:1:4", "anchors"),
        ("a:\n\tb: 1\n", "f.yaml:2:1", "tab"),
        ("a: [1\n", "f.yaml:2:1", "YAML syntax error"),
    ],
)
def test_bad_yaml_is_a_usage_error_with_location(text: str, where: str, words: str) -> None:
    with pytest.raises(UsageError) as info:
        yamlio.loads(text, "f.yaml")
    assert str(info.value.where) == where
    assert words in info.value.message


def test_alias_bomb_is_refused_before_expansion() -> None:
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)}]\n"
        for i in range(8)
    )
    with pytest.raises(UsageError, match="not allowed"):
        yamlio.loads(bomb, "bomb.yaml")


def test_deep_nesting_is_refused() -> None:
    with pytest.raises(UsageError, match="nesting"):
        yamlio.loads("[" * 5000 + "]" * 5000, "deep.yaml")


def test_non_utf8_names_line_and_column() -> None:
    with pytest.raises(UsageError) as info:
        yamlio.decode(b"a: 1\nb: caf\xe9\n", "f.yaml")
    assert str(info.value.where) == "f.yaml:2:7"


def test_bom_and_crlf_are_accepted() -> None:
    text = yamlio.decode(b"\xef\xbb\xbfa: 1\r\nb: two\r\n", "f.yaml")
    assert yamlio.plain(yamlio.loads(text, "f.yaml")) == {"a": 1, "b": "two"}


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("42", 42),
        ("true", True),
        ("0.5", 0.5),
        ("hello world", "hello world"),
        ("[1", "[1"),
        ("a: b", "a: b"),
        ("", ""),
    ],
)
def test_var_values_are_yaml_scalars_or_the_string(raw: str, value: object) -> None:
    assert yamlio.parse_scalar(raw) == value
