"""JSON Schemas of promptctl's files for editors: read from the package, wired into VS Code."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError

KINDS = ("prompt", "suite", "config", "labels")
SCHEMA_DIR = Path(__file__).parent.parent / "schemas"
VSCODE_DIR = ".vscode/promptctl"
SETTINGS = ".vscode/settings.json"


def schema_text(kind: str) -> str:
    """The JSON Schema (Draft 2020-12) of one file kind, as shipped in the package."""
    if kind not in KINDS:
        from promptctl.project.checks import did_you_mean

        hint = did_you_mean(kind, KINDS)
        raise UsageError(
            f"unknown schema {kind!r}",
            hint=(hint + " " if hint else "") + f"kinds: {', '.join(KINDS)}",
        )
    return (SCHEMA_DIR / f"{kind}.schema.json").read_text(encoding="utf-8")


def schema(kind: str) -> dict[str, Any]:
    return json.loads(schema_text(kind))


def file_globs(root: Path) -> dict[str, list[str]]:
    """Which files each schema applies to, following promptctl.yaml's `paths:` when present."""
    from promptctl.project import config

    project = config.load_project(root=root)

    def rel(kind: str) -> str:
        return project.path(kind).relative_to(project.root.resolve()).as_posix()

    prompts, evals = rel("prompts"), rel("evals")
    return {
        "prompt": [f"{prompts}/**/*.yaml", f"{prompts}/**/*.yml"],
        # Suites sit directly in evals/; datasets under evals/data/ are not suites.
        "suite": [f"{evals}/*.yaml", f"{evals}/*.yml"],
        "config": [config.CONFIG_FILE],
        "labels": [rel("labels")],
    }


def write_vscode_settings(root: Path) -> list[Path]:
    """Copy the schemas into .vscode/promptctl/ and map them in .vscode/settings.json.

    An existing settings.json keeps every other setting; one with comments (JSONC) is edited as
    text so the comments survive. Returns the files written.

    Raises:
        UsageError: settings.json cannot be read as JSON(C), or its `yaml.schemas` cannot be
            merged without losing comments.
    """
    from promptctl.project.files import write_atomic

    root = root.resolve()
    written: list[Path] = []
    mapping: dict[str, list[str]] = {}
    for kind, globs in file_globs(root).items():
        target = root / VSCODE_DIR / f"{kind}.schema.json"
        text = schema_text(kind)
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            write_atomic(target, text)
            written.append(target)
        mapping[f"./{VSCODE_DIR}/{kind}.schema.json"] = globs
    settings = root / SETTINGS
    merged = _merged_settings(settings, mapping)
    if merged is not None:
        write_atomic(settings, merged)
        written.append(settings)
    return written


def _merged_settings(path: Path, mapping: dict[str, list[str]]) -> str | None:
    """The new settings.json text, or None when it already says what we would write."""
    shown = SETTINGS
    if not path.exists():
        return json.dumps({"yaml.schemas": mapping}, indent=2) + "\n"
    text = path.read_text(encoding="utf-8-sig")
    if not text.strip():
        return json.dumps({"yaml.schemas": mapping}, indent=2) + "\n"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if data is not None:
        if not isinstance(data, dict):
            raise UsageError(
                "settings.json is not a JSON object",
                where=Location(shown, 1, 1),
                hint="fix it, then rerun",
            )
        current = data.get("yaml.schemas")
        if current is not None and not isinstance(current, dict):
            raise UsageError(
                "`yaml.schemas` in settings.json is not an object",
                where=Location(shown),
                hint="fix it, then rerun",
            )
        schemas = {**(current or {}), **mapping}
        if current == schemas:
            return None
        data["yaml.schemas"] = schemas
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    # JSONC (comments, trailing commas): VS Code accepts it; rewriting it would drop comments.
    try:
        data = json.loads(_strip_jsonc(text))
    except json.JSONDecodeError as e:
        raise UsageError(
            f"settings.json is not valid JSON: {e.msg}",
            where=Location(shown, e.lineno, e.colno),
            hint="fix it, then rerun",
        ) from None
    if not isinstance(data, dict):
        raise UsageError("settings.json is not a JSON object", where=Location(shown, 1, 1))
    entry = json.dumps(mapping, indent=2).replace("\n", "\n  ")
    if "yaml.schemas" in data:
        if all(data["yaml.schemas"].get(k) == v for k, v in mapping.items()):
            return None
        raise UsageError(
            "settings.json has comments and its own `yaml.schemas`; merging would lose them",
            where=Location(shown),
            hint=f'add these entries to "yaml.schemas" by hand: {json.dumps(mapping)}',
        )
    brace = _blank_comments(text).index("{")  # the object parsed, so its first brace is real
    rest = text[brace + 1 :]
    separator = "," if data else ""
    return f'{text[: brace + 1]}\n  "yaml.schemas": {entry}{separator}{rest}'


_COMMENT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|//[^\n]*|/\*.*?\*/', re.S)
_COMMA_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|,(?=\s*[}\]])', re.S)


def _blank_comments(text: str) -> str:
    """Comments replaced by spaces (same length, so offsets still point into `text`)."""
    return _COMMENT_TOKEN.sub(
        lambda m: m.group(0) if m.group(0).startswith('"') else " " * len(m.group(0)), text
    )


def _strip_jsonc(text: str) -> str:
    """Comments and trailing commas out, strings untouched."""
    return _COMMA_TOKEN.sub(
        lambda m: m.group(0) if m.group(0).startswith('"') else "", _blank_comments(text)
    )
