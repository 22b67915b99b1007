"""Import from other tools' files: a plan of files to write plus every item left behind.

The converters (`prompt_yml`, `promptfoo`) are pure: a parsed file in, an `ImportPlan` out. Only
`write_plan` touches the disk, and it refuses to overwrite anything unless forced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.interop.plan import (
    FORMATS,
    Collector,
    ImportPlan,
    PlannedFile,
    Skipped,
    conflicts,
    default_gate,
    input_schema,
    jinja_literal,
    jsonl_text,
    slug,
    template_variables,
    unique,
    unknown_filters,
    write_plan,
    yaml_text,
)
from promptctl.project import yamlio

__all__ = [
    "FORMATS",
    "Collector",
    "ImportPlan",
    "PlannedFile",
    "Skipped",
    "conflicts",
    "default_gate",
    "detect",
    "input_schema",
    "jinja_literal",
    "jsonl_text",
    "plan_import",
    "slug",
    "template_variables",
    "unique",
    "unknown_filters",
    "write_plan",
    "yaml_text",
]


# ----------------------------------------------------------------------------- entry points


def detect(data: Any, path: Path) -> str | None:
    """Which format a parsed file is in, or None when it is neither."""
    if not isinstance(data, dict):
        return None
    name = path.name.lower()
    if name.endswith((".prompt.yml", ".prompt.yaml")) and "messages" in data:
        return "prompt-yml"
    if "prompts" in data or ("providers" in data and "tests" in data):
        return "promptfoo"
    if "messages" in data and ("model" in data or "modelParameters" in data or "testData" in data):
        return "prompt-yml"
    return None


def plan_import(
    path: Path, display: str | None = None, *, prefix: str | None = None, model: str | None = None
) -> ImportPlan:
    """Parse `path` and convert it; a file of neither format or bad YAML is a UsageError."""
    shown = display or str(path)
    data = yamlio.load_file(path, shown)
    fmt = detect(data, path)
    if fmt is None:
        where = getattr(data, "loc", None) or Location(shown, 1, 1)
        raise UsageError(
            "neither a GitHub Models .prompt.yml nor a promptfoo config",
            where=where,
            hint="a .prompt.yml has `messages:` (and `model:`); a promptfooconfig.yaml has "
            "`prompts:` and `providers:`",
        )
    if fmt == "prompt-yml":
        from promptctl.interop import prompt_yml

        return prompt_yml.convert(data, shown, path, prefix=prefix, model=model)
    from promptctl.interop import promptfoo

    return promptfoo.convert(data, shown, path, prefix)
