"""Safe YAML: node marks become Locations; duplicate keys, aliases and deep nesting are refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from promptctl.errors import Location, UsageError

MAX_DEPTH = 64  # the C loader segfaults and the Python one recurses out on deep nesting


class YamlMap(dict):
    """A dict that remembers where it, each key and each value came from."""

    __slots__ = ("key_locs", "loc", "value_locs")

    def __init__(self) -> None:
        super().__init__()
        self.loc: Location | None = None
        self.key_locs: dict[Any, Location] = {}
        self.value_locs: dict[Any, Location] = {}

    def key_loc(self, key: Any) -> Location | None:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: Any) -> Location | None:
        return self.value_locs.get(key, self.key_loc(key))


class YamlList(list):
    """A list that remembers where it and each item came from."""

    __slots__ = ("item_locs", "loc")

    def __init__(self) -> None:
        super().__init__()
        self.loc: Location | None = None
        self.item_locs: list[Location] = []

    def item_loc(self, index: int) -> Location | None:
        return self.item_locs[index] if index < len(self.item_locs) else self.loc


def _loc(path: str, node: Node) -> Location:
    return Location(path, node.start_mark.line + 1, node.start_mark.column + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses aliases/anchors and caps nesting while composing."""

    def __init__(self, stream: str, path: str) -> None:
        super().__init__(stream)
        self._path = path
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            raise _Refused(
                "YAML aliases (*name) are not allowed", event.start_mark, "write the value out"
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(
                "YAML anchors (&name) are not allowed", event.start_mark, "write the value out"
            )
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(
                f"nesting deeper than {MAX_DEPTH} levels", event.start_mark, "flatten the file"
            )
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Refused(Exception):
    def __init__(self, message: str, mark: Any, hint: str) -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


def _construct(node: Node, path: str, loader: _Loader) -> Any:
    if isinstance(node, MappingNode):
        out = YamlMap()
        out.loc = _loc(path, node)
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = _construct(key_node, path, loader)
            where = _loc(path, key_node)
            try:
                hash(key)
            except TypeError:
                raise UsageError("a mapping key must be a plain value", where=where) from None
            if key in out:
                first = out.key_locs[key]
                raise UsageError(
                    f"duplicate key {key!r} (first at line {first.line})",
                    where=where,
                    hint="remove one of them: YAML keeps only the last, silently",
                )
            out[key] = _construct(value_node, path, loader)
            out.key_locs[key] = where
            out.value_locs[key] = _block_loc(path, value_node)
        return out
    if isinstance(node, SequenceNode):
        seq = YamlList()
        seq.loc = _loc(path, node)
        for item in node.value:
            seq.append(_construct(item, path, loader))
            seq.item_locs.append(_block_loc(path, item))
        return seq
    assert isinstance(node, ScalarNode)
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and _SURROGATE.search(value):
        value = _join_surrogates(value, _loc(path, node))
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


def _join_surrogates(value: str, where: Location) -> str:
    """PyYAML decodes a JSON-style "\\ud83d\\ude00" escape as two lone surrogates."""
    try:
        return value.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise UsageError(
            "a lone UTF-16 surrogate escape (\\ud800-\\udfff)",
            where=where,
            hint="write the character itself, or a valid pair",
        ) from None


def _block_loc(path: str, node: Node) -> Location:
    """Where a value's text starts: for `|` and `>` scalars, the line after the indicator."""
    if isinstance(node, ScalarNode) and node.style in ("|", ">"):
        return Location(path, node.start_mark.line + 2, 1)
    return _loc(path, node)


def decode(data: bytes, path: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise UsageError(
            f"not UTF-8 (byte 0x{data[e.start]:02x})",
            where=Location(path, line, col),
            hint="save the file as UTF-8",
        ) from None
    return text


# A merge left both sides in the file. The markers start at column 1, where no block scalar
# line can (its text is indented under its key), so a file that has both is a conflict.
_CONFLICT_START = re.compile(r"^<{7}(?: |$)", re.MULTILINE)
_CONFLICT_END = re.compile(r"^>{7}(?: |$)", re.MULTILINE)


def _refuse_conflict(text: str, path: str) -> None:
    start = _CONFLICT_START.search(text)
    if start is None or _CONFLICT_END.search(text, start.end()) is None:
        return
    raise UsageError(
        "unresolved merge conflict (<<<<<<< ... >>>>>>> markers)",
        where=Location(path, text.count("\n", 0, start.start()) + 1, 1),
        hint="resolve the conflict: keep one side (or combine them), delete the marker lines, "
        "then `git add` the file",
    )


def loads(text: str, path: str) -> Any:
    """Parse one YAML document; every problem is a UsageError with file:line:col."""
    _refuse_conflict(text, path)
    try:
        # the Reader checks every character up front, in the constructor (issue 9: found by
        # the property tests; a stray control byte was a traceback)
        loader = _Loader(text, path)
    except yaml.reader.ReaderError as e:
        raise _reader_error(e, text, path) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _construct(node, path, loader)
    except _Refused as e:
        raise UsageError(
            e.message,
            where=Location(path, e.mark.line + 1, e.mark.column + 1),
            hint=e.hint,
        ) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
        problem = e.problem or e.context or "invalid YAML"
        hint = "fix the YAML syntax"
        if "\t" in problem or "'\\t'" in problem:
            problem, hint = "tab character used for indentation", "indent with spaces, not tabs"
        raise UsageError(f"YAML syntax error: {problem}", where=where, hint=hint) from None
    except yaml.reader.ReaderError as e:
        raise _reader_error(e, text, path) from None
    except yaml.YAMLError as e:
        raise UsageError(f"YAML error: {e}", where=Location(path)) from None
    except RecursionError:
        raise UsageError(
            "nesting too deep", where=Location(path), hint="flatten the file"
        ) from None
    finally:
        loader.dispose()


def _reader_error(e: yaml.reader.ReaderError, text: str, path: str) -> UsageError:
    """YAML allows no C0/C1 control characters but tab, LF, CR and NEL, nor U+FFFE/U+FFFF."""
    pos = max(0, min(int(e.position), len(text)))
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return UsageError(
        f"character U+{int(e.character):04X} is not allowed in YAML",
        where=Location(path, line, col),
        hint="remove the control character (or write it as an escape in a double-quoted string)",
    )


def load_file(path: Path, display: str | None = None, *, root: Path | None = None) -> Any:
    """Load one YAML file; with `root`, only a regular file inside that project root
    (project.paths decides: symlinks resolved, no device or FIFO, size capped)."""
    shown = display or str(path)
    if root is not None:
        from promptctl.project import paths

        if not path.exists() and not path.is_symlink():
            raise UsageError("file not found", where=Location(shown))
        return loads(decode(paths.read_bytes(root, path), shown), shown)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError("file not found", where=Location(shown)) from None
    except OSError as e:
        raise UsageError(f"cannot read file: {e.strerror}", where=Location(shown)) from None
    return loads(decode(data, shown), shown)


def load_mapping(
    path: Path, display: str | None = None, *, what: str = "file", root: Path | None = None
) -> YamlMap:
    """Load a file that must hold one non-empty mapping (confined to `root` when given)."""
    shown = display or str(path)
    data = load_file(path, shown, root=root)
    return expect_mapping(data, shown, what=what)


def expect_mapping(data: Any, shown: str, *, what: str) -> YamlMap:
    if data is None:
        raise UsageError(
            f"the {what} is empty", where=Location(shown, 1, 1), hint="see docs/ for its fields"
        )
    if not isinstance(data, YamlMap):
        where = getattr(data, "loc", None) or Location(shown, 1, 1)
        raise UsageError(
            f"the {what} must be a mapping of keys to values, not a {type(data).__name__}",
            where=where,
        )
    return data


class CliText(str):
    """A `--var` value as typed. `parsed` is its YAML-scalar reading, used unless the prompt
    declares the variable a string (so `--var ticket=yes` stays "yes", not True)."""

    parsed: Any


def cli_value(text: str) -> CliText:
    value = CliText(text)
    value.parsed = parse_scalar(text)
    return value


def parse_scalar(text: str) -> Any:
    """`--var k=v` values: a YAML scalar (42 -> int, true -> bool), else the string itself."""
    try:
        value = yaml.safe_load(text) if text.strip() else text
    except yaml.YAMLError:
        return text
    return value if isinstance(value, str | int | float | bool) or value is None else text


def plain(value: Any) -> Any:
    """Drop the location wrappers (for hashing and JSON)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def dump(value: Any) -> str:
    return yaml.safe_dump(plain(value), sort_keys=False, allow_unicode=True, width=100)
