"""Lint checks of prompt files: structure (the loader's checks), templates, variables, schemas."""

from __future__ import annotations

from pathlib import Path

from promptctl.errors import Location, UsageError
from promptctl.lint.findings import Finding
from promptctl.model import Message
from promptctl.project import yamlio
from promptctl.project.checks import Checker
from promptctl.project.config import Project
from promptctl.prompts import loader
from promptctl.prompts.prompt import Prompt


def finding_for_load_error(e: UsageError) -> Finding:
    """A file that did not even load: map the loader's error to its code."""
    from promptctl.lint.findings import RULES

    msg = e.message
    if "leaves the project" in msg or "not a regular file" in msg or "is larger than" in msg:
        code = "PC007"
    elif msg.startswith("duplicate key"):
        code = "PC002"
    elif "not allowed" in msg or "nesting" in msg:
        code = "PC006"
    elif msg.startswith(("the ", "a mapping key")) and "must be a mapping" in msg:
        code = "PC004"
    else:
        code = "PC001"
    return Finding(code, RULES[code].severity, msg, e.where, e.hint)


def load_yaml(
    project: Project, path: Path, what: str
) -> tuple[yamlio.YamlMap | None, list[Finding]]:
    shown = project.rel(path)
    try:
        return yamlio.load_mapping(path, shown, what=what, root=project.root), []
    except UsageError as e:
        return None, [finding_for_load_error(e)]


def check(project: Project, path: Path) -> list[Finding]:
    data, findings = load_yaml(project, path, "prompt file")
    if data is None:
        return findings
    shown = project.rel(path)
    checker = Checker(shown)
    prompt = loader.parse_prompt(
        data, loader.prompt_name_for(project, path), shown, project, checker, lenient=True
    )
    if prompt is None:
        # The structure is broken; template checks on the usable parts would only add noise.
        return checker.findings
    check_templates(prompt, data, checker)
    check_schemas(prompt, data, checker)
    if prompt.uses or "uses" in data:
        check_uses(project, prompt, checker)
    return checker.findings


def check_uses(project: Project, prompt: Prompt, checker: Checker) -> None:
    """PC111 a cycle, PC112 an unknown upstream/label or alias, PC113 a use nothing reads."""
    from dataclasses import replace

    from promptctl.prompts import rendering

    for use in prompt.uses:  # one at a time: every bad entry is reported, not the first
        try:
            loader.link(replace(prompt, uses=(use,)), loader.Source(project))
        except UsageError as e:
            code = "PC111" if "a cycle" in e.message else "PC112"
            checker.add(code, e.message, e.where, e.hint)
    read = rendering.uses_fields(prompt)
    aliases = {u.alias for u in prompt.uses}
    for use in prompt.uses:
        if use.alias not in read:
            checker.add(
                "PC113",
                f"uses.{use.alias} ({use.ref}) is never read by the templates",
                use.source,
                f"read {{{{ uses.{use.alias}.output }}}} or {{{{ uses.{use.alias}.text }}}}, "
                "or remove it",
            )
    for alias in sorted(set(read) - aliases):
        checker.add(
            "PC112",
            f"a template reads uses.{alias}, which `uses:` does not declare",
            prompt.messages[0].source if prompt.messages else prompt.source,
            "declared: " + (", ".join(sorted(aliases)) or "none"),
        )


def check_templates(prompt: Prompt, data: yamlio.YamlMap, checker: Checker) -> None:
    from jinja2 import TemplateSyntaxError

    from promptctl.prompts import rendering

    used: set[str] = set()
    first_use: dict[str, Location | None] = {}
    for message in prompt.messages:
        try:
            rendering.compile_message(message.source, message.content, prompt.partials_dir)
        except UsageError as e:
            checker.add("PC101", e.message, e.where, e.hint)
            continue
        try:
            names = rendering.template_variables(message, prompt.partials_dir)
            used |= names
            for name in names:
                first_use.setdefault(name, _line_of(message, name))
        except TemplateSyntaxError as e:
            checker.add("PC101", f"template syntax error: {e.message}", message.source)
        for name in sorted(rendering.included_partials(message, prompt.partials_dir)):
            try:
                env = rendering.environment(prompt.partials_dir)
                env.loader.get_source(env, name)
            except Exception as e:  # noqa: BLE001 - any reason the partial cannot be read
                checker.add(
                    "PC109",
                    f"partial {name!r} cannot be included: {getattr(e, 'message', None) or e}",
                    message.source,
                    "partials live in prompts/partials/",
                )
    declared = set(prompt.input) | ({"uses"} if prompt.uses else set())
    inputs = data.get("input") if isinstance(data.get("input"), yamlio.YamlMap) else None
    for name in sorted(used - declared):
        checker.add(
            "PC102",
            f"template uses {name!r}, which `input` does not declare",
            first_use.get(name) or data.key_loc("input" if inputs is not None else "model"),
            f"add `{name}: {{type: string}}` under input:",
        )
    for name in sorted(declared - used):
        checker.add(
            "PC103",
            f"input declares {name!r}, which no template uses",
            inputs.key_loc(name) if inputs is not None else None,
            "remove it, or use it in a message",
        )


def check_schemas(prompt: Prompt, data: yamlio.YamlMap, checker: Checker) -> None:
    from promptctl.prompts import validation

    inputs = data.get("input")
    for name, schema in prompt.input.items():
        where = inputs.value_loc(name) if isinstance(inputs, yamlio.YamlMap) else None
        body = {k: v for k, v in schema.items() if k != "default"}
        for problem in validation.schema_errors(body)[:3]:
            checker.add("PC108", f"input.{name}: {problem}", where)
        if "default" in schema and not validation.schema_errors(body):
            for problem in validation.validate(schema["default"], body)[:1]:
                checker.add("PC108", f"input.{name}: the default is invalid: {problem}", where)
    if prompt.output.schema is not None:
        output = data.get("output")
        where = output.value_loc("schema") if isinstance(output, yamlio.YamlMap) else None
        for problem in validation.schema_errors(prompt.output.schema)[:5]:
            checker.add("PC107", f"output.schema: {problem}", where, "fix the JSON Schema")


def _line_of(message: Message, name: str) -> Location | None:
    """Where `name` first appears in the message's text (its line in the YAML file)."""
    import re

    where = message.source
    if where is None or where.line is None:
        return where
    pattern = re.compile(rf"\b{re.escape(name)}\b")
    for offset, line in enumerate(message.content.splitlines()):
        hit = pattern.search(line)
        if hit and ("{{" in line or "{%" in line):
            # A block scalar's indentation is not in the text: past line 1, no column.
            col = (where.col or 1) + hit.start() if offset == 0 else None
            return Location(where.path, where.line + offset, col)
    return where
