"""An import plan (files to write, items left behind), its writer, and the helpers converters
share to build one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from promptctl.errors import Location, UsageError
from promptctl.project import yamlio
from promptctl.project.files import write_atomic

FORMATS = {
    "prompt-yml": "GitHub Models .prompt.yml",
    "promptfoo": "promptfoo config",
}


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file an import would write, relative to the target project root."""

    path: str  # posix, e.g. "prompts/summarize.yaml"
    text: str
    kind: str  # prompt | suite | dataset


@dataclass(frozen=True, slots=True)
class Skipped:
    """Something in the source that was not imported (or was imported with a change)."""

    where: Location
    what: str
    why: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}: {self.why}"


@dataclass(frozen=True, slots=True)
class ImportPlan:
    """What `promptctl import` would do: files to write, and what it could not convert.

    `skipped` items were left out; `notes` were imported with a change in meaning the user
    should know about (e.g. case sensitivity). Both carry the source file and line.
    """

    source: str
    format: str  # a key of FORMATS
    files: tuple[PlannedFile, ...]
    skipped: tuple[Skipped, ...] = ()
    notes: tuple[Skipped, ...] = ()

    @property
    def prompts(self) -> tuple[PlannedFile, ...]:
        return tuple(f for f in self.files if f.kind == "prompt")


class Collector:
    """Gathers skipped items and notes while a converter walks a file."""

    def __init__(self) -> None:
        self.skipped: list[Skipped] = []
        self.notes: list[Skipped] = []

    def skip(self, where: Location | None, what: str, why: str, shown: str) -> None:
        self.skipped.append(Skipped(where or Location(shown), what, why))

    def note(self, where: Location | None, what: str, why: str, shown: str) -> None:
        self.notes.append(Skipped(where or Location(shown), what, why))


def conflicts(plan: ImportPlan, root: Path) -> list[Path]:
    return [root / f.path for f in plan.files if (root / f.path).exists()]


def write_plan(plan: ImportPlan, root: Path, *, force: bool = False) -> list[Path]:
    """Write every planned file under `root`; nothing is written if one exists and not `force`."""
    existing = conflicts(plan, root)
    if existing and not force:
        listing = ", ".join(p.relative_to(root).as_posix() for p in existing[:5])
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        raise UsageError(
            f"refusing to overwrite {listing}{more}",
            hint="pass --force to overwrite, --into DIR to import elsewhere, or --dry-run to "
            "see what would be written",
        )
    written = []
    for planned in plan.files:
        target = root / planned.path
        write_atomic(target, planned.text)
        written.append(target)
    return written


# ----------------------------------------------------------------------------- shared helpers

_SLUG_DROP = re.compile(r"[^a-z0-9]+")
_JINJA_OPEN = ("{{", "{%", "{#")


def slug(text: str, fallback: str = "imported") -> str:
    """A kebab-case name usable as a file stem and an id."""
    out = _SLUG_DROP.sub("-", str(text).lower()).strip("-")
    return out[:60].strip("-") or fallback


def unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def jinja_literal(text: str) -> str:
    """`text` as a Jinja template that renders to itself."""
    if not any(tok in text for tok in _JINJA_OPEN):
        return text
    # `{% endraw %}` inside raw text would end the block early; split it across two blocks.
    parts = text.split("{% endraw %}")
    body = "{% endraw %}{{ '{% endraw %}' }}{% raw %}".join(parts)
    return "{% raw %}" + body + "{% endraw %}"


def template_variables(text: str) -> list[str] | None:
    """Variables a Jinja template reads, in order of first use; None if it does not parse."""
    from jinja2 import TemplateSyntaxError, meta

    from promptctl.prompts import rendering

    env = rendering.environment(None)
    try:
        ast = env.parse(text)
        # Code generation checks filters: an unknown one raises TemplateAssertionError (a
        # TemplateSyntaxError) here, not in parse(); unknown_filters() names them.
        undeclared = meta.find_undeclared_variables(ast)
    except TemplateSyntaxError:
        return None
    # `range`, `dict`, `namespace`, ... are Jinja globals, not variables a case must set.
    names = undeclared - set(env.globals)
    return sorted(names, key=lambda n: (_first_use(text, n), n))


def unknown_filters(text: str) -> list[str]:
    """Filters a template uses that the prompt sandbox does not have (sorted); [] if none or
    if it does not parse (template_variables reports that)."""
    from jinja2 import TemplateSyntaxError, nodes

    from promptctl.prompts import rendering

    env = rendering.environment(None)
    try:
        ast = env.parse(text)
    except TemplateSyntaxError:
        return []
    used = {n.name for n in ast.find_all(nodes.Filter)}
    return sorted(used - set(env.filters))


def _first_use(text: str, name: str) -> int:
    hit = re.search(rf"\b{re.escape(name)}\b", text)
    return hit.start() if hit else len(text)


def input_schema(values: Iterable[Any]) -> dict[str, Any]:
    """A declaration for a variable: `{type: string}` unless a case gives it another type."""
    seen = list(values)
    if all(isinstance(v, str) for v in seen):
        return {"type": "string"}
    return {}


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings: imported prompts should read like hand-written ones."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to quotes by itself when a block scalar cannot hold the text exactly
    # (trailing spaces, for one), so asking for `|` is always safe.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _short_flow(dumper: yaml.SafeDumper, value: Mapping[str, Any]) -> yaml.MappingNode:
    # {type: string} on one line, like the SPEC's examples; longer mappings stay in block style.
    simple = len(value) <= 2 and all(
        isinstance(v, str | int | float | bool)
        and (not isinstance(v, str) or (len(v) < 30 and "\n" not in v))
        for v in value.values()
    )
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=simple)


_Dumper.add_representer(dict, _short_flow)


def _short_list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.SequenceNode:
    # scale: [1, 5] and required: [summary] read best inline.
    simple = len(value) <= 8 and all(
        isinstance(v, int | float | bool) or (isinstance(v, str) and len(v) < 20 and "\n" not in v)
        for v in value
    )
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=simple)


_Dumper.add_representer(list, _short_list)


def yaml_text(data: Mapping[str, Any], header: str | None = None) -> str:
    body = yaml.dump(
        yamlio.plain(dict(data)), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    if header:
        body = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + body
    return body


def jsonl_text(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(yamlio.plain(dict(r)), ensure_ascii=False) + "\n" for r in rows)


def default_gate() -> dict[str, float]:
    # Neither tool has a baseline gate; these are promptctl's own defaults, written out so the
    # user sees (and can tighten) them. No min_pass_rate: the source set no floor.
    return {"max_drop": 0.05, "alpha": 0.05}
