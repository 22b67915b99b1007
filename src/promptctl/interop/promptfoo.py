"""promptfoo config (`promptfooconfig.yaml`) -> promptctl prompts, datasets and suites.

promptfoo evaluates every prompt x provider x test; promptctl has one model per prompt and one
prompt per suite. So each (prompt, provider) pair becomes a prompt file, and its tests become
suites. promptfoo's asserts belong to a test while promptctl's scorers belong to a suite: tests
with the same kinds of asserts share a suite, an assert value that differs from test to test
moves into each case's `expected` and the scorer reads it as `{{ expected }}`.

Everything that cannot be converted (code asserts, providers promptctl lacks, transforms, ...)
is listed with its file and line; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.interop.plan import (
    Collector,
    ImportPlan,
    PlannedFile,
    default_gate,
    input_schema,
    jsonl_text,
    slug,
    template_variables,
    unique,
    unknown_filters,
    yaml_text,
)
from promptctl.project import paths, yamlio

TOP_KEYS = (
    "description",
    "prompts",
    "providers",
    "targets",
    "tests",
    "defaultTest",
    "assertionTemplates",  # read through the asserts' `$ref`s
)
TEST_KEYS = ("description", "vars", "assert", "options", "threshold", "metadata", "provider")
ASSERT_KEYS = ("type", "value", "threshold", "provider", "weight", "metric")
SIMPLE = ("equals", "contains", "icontains", "starts-with", "regex")
ANY_ALL = ("contains-any", "contains-all", "icontains-any", "icontains-all")
CODE = ("javascript", "python", "webhook")
ROLES = ("system", "user", "assistant")
MAX_COMBINATIONS = 1000  # array vars multiply tests; past this the user should write a dataset
# Parameters promptfoo passes through in `config:` that mean the same in promptctl.
PARAMS = {
    "openai": (
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "top_p",
        "presence_penalty",
        "frequency_penalty",
        "seed",
        "stop",
        "reasoning_effort",
    ),
    "anthropic": ("temperature", "max_tokens", "top_p", "top_k", "stop_sequences"),
    "mock": ("temperature", "max_tokens", "seed"),
}
SECRET_KEYS = ("apiKey", "apiKeyEnvar", "apiKeyRequired", "headers", "organization")


@dataclass
class PromptSource:
    label: str
    where: Location
    template: str | None = None
    messages: list[dict[str, str]] | None = None
    named: bool = True  # False for an inline prompt without a label


@dataclass
class Target:
    label: str
    model: str
    params: dict[str, Any]
    where: Location
    output: dict[str, Any] | None = None  # from config.response_format


@dataclass
class Scorer:
    """One converted assert: `fixed` decides which tests can share a suite."""

    type: str
    options: dict[str, Any]
    value: Any = None
    varies: bool = False  # a plain string that may differ from test to test
    name: str | None = None

    def key(self) -> str:
        fixed = {
            "type": self.type,
            "options": self.options,
            "name": self.name,
            "value": None if self.varies else self.value,
        }
        return json.dumps(fixed, sort_keys=True, default=str)


@dataclass
class Test:
    id: str
    vars: dict[str, Any]
    scorers: list[Scorer]  # the test's own asserts (defaultTest's are the suite's scorers)
    where: Location
    tags: list[str] | None = None


class _Ctx:
    def __init__(self, shown: str, base: Path, doc: Any = None) -> None:
        self.doc = doc  # the whole config, for `$ref: '#/...'`
        self.shown = shown
        self.base = base  # file:// paths are relative to the config's directory
        self.c = Collector()

    def skip(self, where: Location | None, what: str, why: str) -> None:
        self.c.skip(where, what, why, self.shown)

    def note(self, where: Location | None, what: str, why: str) -> None:
        self.c.note(where, what, why, self.shown)

    def rel(self, ref: str, loc: Location | None, what: str) -> Path | None:
        """The file a `file://` reference names, or None (skipped, with the reason) unless it is
        a regular file inside the config's directory: a config from a pull request must not
        copy `/proc/self/environ`, `../../.ssh/id_rsa` or `/dev/zero` into a dataset (issue 19)."""
        rel = ref.removeprefix("file://")
        if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts or rel.startswith("~"):
            self.skip(loc, what, _OUTSIDE)
            return None
        if not (self.base / rel).exists():
            self.skip(loc, what, f"cannot read {Path(rel).name}: file not found")
            return None
        try:
            return paths.readable(self.base, self.base / rel)
        except UsageError as e:
            reason = _OUTSIDE if "leaves the project" in e.message else e.message
            self.skip(loc, what, reason)
            return None

    def glob(self, pattern: str, loc: Location | None, what: str) -> list[Path]:
        """Files matching `pattern` inside the config's directory (at most MAX_GLOB)."""
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts or pattern.startswith("~"):
            self.skip(loc, what, _OUTSIDE)
            return []
        found: list[Path] = []
        for match in self.base.glob(pattern):
            if len(found) >= MAX_GLOB:
                self.skip(loc, what, f"matches more than {MAX_GLOB} files")
                return []
            if match.is_file() and paths.is_inside(self.base, match):
                found.append(match)
        return sorted(found)


_OUTSIDE = "only files inside the config's directory (or below it) are read"
MAX_GLOB = 1000


# ----------------------------------------------------------------------------- entry


def convert(data: yamlio.YamlMap, shown: str, path: Path, prefix: str | None = None) -> ImportPlan:
    ctx = _Ctx(shown, path.resolve().parent, data)
    for key in data:
        if key not in TOP_KEYS:
            ctx.skip(data.key_loc(key), f"key {key!r}", "promptctl has no counterpart")
    description = data.get("description") if isinstance(data.get("description"), str) else None
    base = slug(description, "promptfoo") if description else "promptfoo"
    if prefix:
        base = slug(prefix, base)
    prompts = _prompts(data, ctx)
    targets = _providers(data, ctx)
    default_scorers, tests = _tests(data, ctx)
    files: list[PlannedFile] = []
    if not prompts or not targets:
        if prompts and not targets:
            ctx.skip(
                data.key_loc("providers") or data.loc,
                "prompts",
                "no provider promptctl can call, so no prompt file was written",
            )
        return ImportPlan(
            source=shown,
            format="promptfoo",
            files=(),
            skipped=tuple(ctx.c.skipped),
            notes=tuple(ctx.c.notes),
        )

    default_specs, rows = _suite_parts(default_scorers, tests)
    data_name = base
    header = f"Imported by promptctl from {shown}"
    if tests:
        files.append(PlannedFile(f"evals/data/{data_name}.jsonl", jsonl_text(rows), "dataset"))
    judged = _all(tests, default_scorers)
    if any(s.type.endswith("llm-judge") and "model" not in s.options for s in judged):
        ctx.note(
            data.loc,
            "llm-rubric",
            "graded by defaults.judge_model: set it in promptctl.yaml (promptfoo grades with "
            "an OpenAI model by default, e.g. `defaults: {judge_model: openai/gpt-4.1}`); "
            "`promptctl lint` says so until it is set",
        )
    all_vars = [t.vars for t in tests]
    taken: set[str] = set()
    prompt_files: list[PlannedFile] = []
    suite_files: list[PlannedFile] = []
    suite_names: set[str] = set()
    for p_index, prompt in enumerate(prompts):
        for target in targets:
            # One unnamed prompt takes the config's name; otherwise each keeps its label.
            parts = [prompt.label if len(prompts) > 1 or prompt.named else base]
            if len(targets) > 1:
                parts.append(target.label)
            name = unique(slug("-".join(parts), f"{base}-{p_index + 1}"), taken)
            body = _prompt_file(prompt, target, description, all_vars)
            prompt_files.append(
                PlannedFile(f"prompts/{name}.yaml", yaml_text(body, header), "prompt")
            )
            if not tests:
                continue
            suite: dict[str, Any] = {}
            if description:
                suite["description"] = description
            suite.update(
                prompt=name,
                dataset=f"data/{data_name}.jsonl",
                scorers=[dict(s) for s in default_specs],
                gate=default_gate(),
            )
            suite_name = unique(name, suite_names)
            suite_files.append(
                PlannedFile(f"evals/{suite_name}.yaml", yaml_text(suite, header), "suite")
            )
    files = prompt_files + suite_files + files
    return ImportPlan(
        source=shown,
        format="promptfoo",
        files=tuple(files),
        skipped=tuple(ctx.c.skipped),
        notes=tuple(ctx.c.notes),
    )


def _all(tests: list[Test], default: list[Scorer]) -> list[Scorer]:
    return [*default, *(s for t in tests for s in t.scorers)]


# ----------------------------------------------------------------------------- prompts


def _prompts(data: yamlio.YamlMap, ctx: _Ctx) -> list[PromptSource]:
    raw = data.get("prompts")
    where = data.value_loc("prompts")
    if raw is None:
        return []
    entries: list[tuple[Any, str | None, Location | None]] = []
    if isinstance(raw, str):
        entries.append((raw, None, where))
    elif isinstance(raw, dict):  # the old {file://path: label} form
        entries += [(k, v if isinstance(v, str) else None, raw.key_loc(k)) for k, v in raw.items()]
    elif isinstance(raw, list):
        entries += [(item, None, raw.item_loc(i)) for i, item in enumerate(raw)]
    else:
        ctx.skip(where, "prompts", "must be a string, a list or a mapping")
        return []
    out: list[PromptSource] = []
    for item, label, loc in entries:
        loc = loc or Location(ctx.shown)
        if isinstance(item, dict):
            body = item.get("id") if isinstance(item.get("id"), str) else item.get("raw")
            label = item.get("label") if isinstance(item.get("label"), str) else None
            for key in item:
                if key not in ("id", "raw", "label", "messages"):
                    ctx.skip(
                        _key_loc(item, key, loc), f"prompt {key!r}", "promptctl has no counterpart"
                    )
            if body is None and isinstance(item.get("messages"), list):
                made = _chat(
                    yamlio.plain(item["messages"]),
                    label or f"prompt-{len(out) + 1}",
                    loc,
                    ctx,
                    "prompt",
                )
                if made is not None:
                    made.named = label is not None
                    out.append(made)
                continue
            item = body
        if not isinstance(item, str):
            ctx.skip(loc, "prompt", "a prompt must be text, a file:// path or {id|raw, label}")
            continue
        if item.startswith(("pf://", "http://", "https://")):
            ctx.skip(
                loc,
                f"prompt {item}",
                "a remote or promptfoo-hosted prompt cannot be read; "
                "save it to a file next to the config and name that file",
            )
        elif item.startswith("file://"):
            out += _file_prompts(item, label, loc, ctx)
        elif _looks_like_path(item):
            # promptfoo reads `prompts: [prompts.txt]` as a file too (its own guide's form);
            # a path is never imported as the text of a prompt.
            out += _file_prompts("file://" + item.strip(), label, loc, ctx)
        else:
            made = _text_prompt(item, label or f"prompt-{len(out) + 1}", loc, ctx)
            if made is not None:
                made.named = label is not None
            out += [made] if made else []
    labels: set[str] = set()
    for p in out:
        p.label = unique(slug(p.label, "prompt"), labels)
    return out


PROMPT_SUFFIXES = (
    ".txt",
    ".md",
    ".json",
    ".jsonl",
    ".yaml",
    ".yml",
    ".j2",
    ".jinja",
    ".jinja2",
    ".njk",
    ".csv",
    ".prompt",
    ".py",
    ".js",
    ".cjs",
    ".mjs",
    ".ts",
)


def _looks_like_path(text: str) -> bool:
    """One line naming a file (by its suffix) or a glob: what promptfoo reads as a path."""
    candidate = text.strip()
    if not candidate or "\n" in candidate or "{{" in candidate or len(candidate) > 300:
        return False
    name = candidate.split(":", 1)[0] if candidate.count(":") == 1 else candidate
    return name.lower().endswith(PROMPT_SUFFIXES) or (
        " " not in candidate and any(ch in candidate for ch in "*?")
    )


def _file_prompts(ref: str, label: str | None, loc: Location, ctx: _Ctx) -> list[PromptSource]:
    rel = ref.removeprefix("file://")
    if ":" in Path(rel).name:
        ctx.skip(loc, f"prompt {ref}", "a prompt function (file:function) cannot be imported")
        return []
    if any(ch in rel for ch in "*?["):
        files = ctx.glob(rel, loc, f"prompt {ref}")
    elif Path(rel).suffix.lower() in (".js", ".cjs", ".mjs", ".ts", ".py"):
        ctx.skip(loc, f"prompt {ref}", "code prompts (JavaScript/Python) cannot be imported")
        return []
    else:
        one = ctx.rel(ref, loc, f"prompt {ref}")
        if one is None:
            return []
        files = [one]
    if not files:
        ctx.skip(loc, f"prompt {ref}", "no file matches")
        return []
    out: list[PromptSource] = []
    for path in files:
        name = label if label and len(files) == 1 else path.stem
        suffix = path.suffix.lower()
        if suffix in (".js", ".cjs", ".mjs", ".ts", ".py"):
            ctx.skip(loc, f"prompt {ref}", "code prompts (JavaScript/Python) cannot be imported")
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            ctx.skip(loc, f"prompt {ref}", f"cannot read {path.name}: {getattr(e, 'strerror', e)}")
            continue
        if suffix in (".json", ".yaml", ".yml"):
            made = _chat_file(text, suffix, name, loc, ctx, ref)
            out += [made] if made else []
            continue
        if suffix == ".csv":
            out += _csv_prompts(text, name, loc, ctx, ref)
            continue
        if suffix == ".jsonl":
            for i, line in enumerate(x for x in text.splitlines() if x.strip()):
                try:
                    parsed = json.loads(line)
                except ValueError:
                    ctx.skip(loc, f"prompt {ref} line {i + 1}", "not JSON")
                    continue
                made = _chat(parsed, f"{name}-{i + 1}", loc, ctx, ref)
                out += [made] if made else []
            continue
        # promptfoo splits a text file into several prompts at lines of `---`.
        pieces = [p.strip("\n") for p in re.split(r"^---$", text, flags=re.M)]
        pieces = [p for p in pieces if p.strip()]
        for i, piece in enumerate(pieces):
            made = _text_prompt(piece, name if len(pieces) == 1 else f"{name}-{i + 1}", loc, ctx)
            out += [made] if made else []
    return out


def _csv_prompts(text: str, name: str, loc: Location, ctx: _Ctx, ref: str) -> list[PromptSource]:
    """promptfoo's prompts CSV: a `prompt` column (else the first), optionally `label`."""
    out: list[PromptSource] = []
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        ctx.skip(loc, f"prompt {ref}", "an empty CSV")
        return []
    header = [h.strip().lower() for h in rows[0]]
    has_header = "prompt" in header
    col = header.index("prompt") if has_header else 0
    label_col = header.index("label") if "label" in header else None
    for i, row in enumerate(rows[1:] if has_header else rows):
        if len(row) <= col or not row[col].strip():
            continue
        label = row[label_col] if label_col is not None and len(row) > label_col else ""
        made = _text_prompt(row[col], label.strip() or f"{name}-{i + 1}", loc, ctx)
        out += [made] if made else []
    return out


def _chat_file(
    text: str, suffix: str, name: str, loc: Location, ctx: _Ctx, ref: str
) -> PromptSource | None:
    try:
        parsed = json.loads(text) if suffix == ".json" else yamlio.plain(yamlio.loads(text, ref))
    except (json.JSONDecodeError, UsageError) as e:
        ctx.skip(loc, f"prompt {ref}", f"not a chat prompt (JSON/YAML list of messages): {e}")
        return None
    if isinstance(parsed, dict) and isinstance(parsed.get("messages"), list):
        parsed = parsed["messages"]  # {messages: [...]}, e.g. a GitHub Models .prompt.yml
    return _chat(parsed, name, loc, ctx, ref)


def _text_prompt(text: str, label: str, loc: Location, ctx: _Ctx) -> PromptSource | None:
    stripped = text.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return _chat(parsed, label, loc, ctx, "prompt")
    fixed = _nunjucks(text, loc, ctx)
    if fixed is None:
        return None
    return PromptSource(label=label, where=loc, template=fixed)


def _chat(parsed: Any, label: str, loc: Location, ctx: _Ctx, what: str) -> PromptSource | None:
    if not isinstance(parsed, list) or not parsed:
        ctx.skip(loc, what, "a chat prompt must be a non-empty list of {role, content}")
        return None
    messages = []
    for m in parsed:
        if isinstance(m, dict) and isinstance(m.get("content"), list):
            m = {**m, "content": _text_parts(m["content"], loc, ctx, what)}
        if (
            not isinstance(m, dict)
            or m.get("role") not in ROLES
            or not isinstance(m.get("content"), str)
        ):
            ctx.skip(
                loc,
                what,
                "chat messages must be {role: system|user|assistant, content: "
                "text} (tool calls and image parts cannot be imported)",
            )
            return None
        content = _nunjucks(m["content"], loc, ctx)
        if content is None:
            return None
        messages.append({"role": m["role"], "content": content})
    return PromptSource(label=label, where=loc, messages=messages)


def _text_parts(parts: list[Any], loc: Location, ctx: _Ctx, what: str) -> str | None:
    """OpenAI/Anthropic content parts -> one text, when every part is text."""
    texts = []
    for part in parts:
        if not isinstance(part, dict) or part.get("type") != "text":
            return None  # an image or tool part: the caller lists the prompt as skipped
        if not isinstance(part.get("text"), str):
            return None
        texts.append(part["text"])
        extra = sorted(k for k in part if k not in ("type", "text"))
        if extra:
            ctx.note(loc, f"{what}: {', '.join(extra)}", "a content part's extras were dropped")
    return "".join(texts)


def _nunjucks(text: str, loc: Location, ctx: _Ctx) -> str | None:
    """Nunjucks -> Jinja2: the same syntax but for `dump` (Jinja's `tojson`)."""
    fixed = re.sub(r"\|\s*dump\b", "| tojson", text)
    if fixed != text:
        ctx.note(loc, "filter `dump`", "became Jinja's `tojson`")
    missing = unknown_filters(fixed)
    if missing:
        ctx.skip(
            loc,
            "prompt",
            f"it uses the filter(s) {', '.join(missing)}, which promptctl's Jinja2 lacks "
            "(Nunjucks or custom filters); rewrite them, then import again",
        )
        return None
    if template_variables(fixed) is None:
        ctx.skip(loc, "prompt", "its template is not valid Jinja2 (Nunjucks-only syntax?)")
        return None
    return fixed


def _prompt_file(
    prompt: PromptSource, target: Target, description: str | None, all_vars: list[dict[str, Any]]
) -> dict[str, Any]:
    texts = (
        [prompt.template]
        if prompt.template is not None
        else [m["content"] for m in prompt.messages or []]
    )
    used: list[str] = []
    for text in texts:
        for name in template_variables(text or "") or []:
            if name not in used:
                used.append(name)
    out: dict[str, Any] = {}
    if description:
        out["description"] = description
    out["model"] = target.model
    if target.params:
        out["params"] = target.params
    inputs: dict[str, Any] = {}
    for name in used:
        values = [v[name] for v in all_vars if name in v]
        decl = input_schema(values)
        if len(values) < len(all_vars) or not all_vars:
            # Nunjucks renders an unset variable as nothing; keep that behaviour explicit.
            decl["default"] = ""
        inputs[name] = decl
    if inputs:
        out["input"] = inputs
    if prompt.template is not None:
        out["template"] = prompt.template
    else:
        out["messages"] = prompt.messages
    if target.output:
        out["output"] = target.output
    return out


# ----------------------------------------------------------------------------- providers


def _providers(data: yamlio.YamlMap, ctx: _Ctx) -> list[Target]:
    raw = data.get("providers", data.get("targets"))
    where = data.value_loc("providers")
    if raw is None:
        ctx.skip(data.loc, "providers", "the config names no provider")
        return []
    items = (
        [(raw, where)]
        if not isinstance(raw, list)
        else [(item, raw.item_loc(i)) for i, item in enumerate(raw)]
    )
    out: list[Target] = []
    labels: set[str] = set()
    for item, loc in items:
        target = _provider(item, loc or Location(ctx.shown), ctx)
        if target is not None:
            target.label = unique(slug(target.label, "model"), labels)
            out.append(target)
    return out


def provider_model(pid: str) -> tuple[str | None, str]:
    """A promptfoo provider id -> (promptctl model id, or None and the reason)."""
    parts = pid.split(":")
    kind = parts[0]
    if kind == "echo":
        return "mock/echo", ""
    if kind == "openai" and len(parts) >= 2:
        if len(parts) == 2:
            return f"openai/{parts[1]}", ""
        if parts[1] == "chat":
            return f"openai/{':'.join(parts[2:])}", ""
        return None, f"openai:{parts[1]} is not the Chat Completions API promptctl calls"
    if kind == "anthropic" and len(parts) >= 2:
        if len(parts) == 2:
            return f"anthropic/{parts[1]}", ""
        if parts[1] == "messages":
            return f"anthropic/{':'.join(parts[2:])}", ""
        return None, f"anthropic:{parts[1]} is not the Messages API promptctl calls"
    return None, (
        f"provider {kind!r} is not built into promptctl; an OpenAI-compatible server "
        "can be added under `providers:` in promptctl.yaml, then set the model by hand"
    )


def _provider(item: Any, loc: Location, ctx: _Ctx) -> Target | None:
    config: Any = {}
    label = None
    if isinstance(item, dict) and "id" not in item and len(item) == 1:
        ((pid, body),) = item.items()  # the {"openai:gpt-4o": {config: ...}} form
        item = {"id": pid, **(body if isinstance(body, dict) else {})}
    if isinstance(item, dict):
        pid = item.get("id")
        config = item.get("config") or {}
        label = item.get("label") if isinstance(item.get("label"), str) else None
        for key in item:
            if key not in ("id", "config", "label"):
                ctx.skip(
                    item.key_loc(key) if isinstance(item, yamlio.YamlMap) else loc,
                    f"provider {key!r}",
                    "promptctl has no counterpart",
                )
    else:
        pid = item
    if not isinstance(pid, str):
        ctx.skip(
            loc, "provider", "a provider must be an id like openai:gpt-4o-mini or {id, config}"
        )
        return None
    if pid.startswith("file://"):
        ctx.skip(loc, f"provider {pid}", "providers from files (custom code) cannot be imported")
        return None
    model, why = provider_model(pid)
    if model is None:
        ctx.skip(loc, f"provider {pid}", why)
        return None
    ptype = model.split("/", 1)[0]
    params: dict[str, Any] = {}
    output: dict[str, Any] | None = None
    if not isinstance(config, dict):
        ctx.skip(loc, f"provider {pid} config", "must be a mapping")
        config = {}
    for key, value in config.items():
        kloc = config.key_loc(key) if isinstance(config, yamlio.YamlMap) else loc
        if key in PARAMS[ptype]:
            params[key] = yamlio.plain(value)
        elif key == "response_format":
            output = _response_format(yamlio.plain(value), kloc, ctx, pid)
        elif key in SECRET_KEYS:
            # Never copied into a committed file; the value is not echoed either.
            ctx.skip(
                kloc,
                f"provider {pid} config.{key}",
                "credentials and headers come from "
                "the environment in promptctl (OPENAI_API_KEY, ANTHROPIC_API_KEY)",
            )
        elif key in ("apiBaseUrl", "apiHost", "basePath"):
            ctx.skip(
                kloc,
                f"provider {pid} config.{key}",
                "endpoints go under `providers:` in promptctl.yaml (base_url) or OPENAI_BASE_URL",
            )
        else:
            ctx.skip(kloc, f"provider {pid} config.{key}", "not a parameter promptctl passes")
    return Target(
        label=label or model.split("/", 1)[1], model=model, params=params, where=loc, output=output
    )


def _response_format(raw: Any, loc: Location, ctx: _Ctx, pid: str) -> dict[str, Any] | None:
    """OpenAI's response_format -> the prompt's `output:` (json, with the schema if given)."""
    if isinstance(raw, str) and raw.startswith("file://"):
        raw = _var_file(raw, loc, ctx)
    if not isinstance(raw, dict):
        ctx.skip(loc, f"provider {pid} config.response_format", "must be a mapping")
        return None
    kind = raw.get("type")
    if kind == "json_object":
        return {"format": "json"}
    if kind == "json_schema":
        body = raw.get("json_schema") if isinstance(raw.get("json_schema"), dict) else {}
        schema = body.get("schema", raw.get("schema"))
        if isinstance(schema, dict):
            return {"format": "json", "schema": schema}
        ctx.skip(loc, f"provider {pid} config.response_format", "json_schema without a schema")
        return {"format": "json"}
    if kind != "text":
        ctx.skip(loc, f"provider {pid} config.response_format", f"type {kind!r} is unknown")
    return None


def _judge_model(raw: Any, loc: Location | None, ctx: _Ctx) -> str | None:
    pid = raw.get("id") if isinstance(raw, dict) else raw
    if not isinstance(pid, str):
        ctx.skip(loc, "grading provider", "must be a provider id; the default judge is used")
        return None
    model, why = provider_model(pid)
    if model is None:
        ctx.skip(loc, f"grading provider {pid}", why + "; the default judge model is used")
    return model


# ----------------------------------------------------------------------------- tests


def _tests(data: yamlio.YamlMap, ctx: _Ctx) -> tuple[list[Scorer], list[Test]]:
    default = data.get("defaultTest") or yamlio.YamlMap()
    if not isinstance(default, dict):
        ctx.skip(
            data.value_loc("defaultTest"),
            "defaultTest",
            "must be a mapping (files are not supported)",
        )
        default = yamlio.YamlMap()
    raw = data.get("tests")
    items: list[tuple[Any, Location]] = []
    if raw is None:
        raw = []
    sources = [raw] if isinstance(raw, str) else raw if isinstance(raw, list) else None
    if sources is None:
        ctx.skip(data.value_loc("tests"), "tests", "must be a list or a file:// path")
        sources = []
    for i, item in enumerate(sources):
        loc = (
            raw.item_loc(i) if isinstance(raw, yamlio.YamlList) else data.value_loc("tests")
        ) or Location(ctx.shown)
        if isinstance(item, str):  # file://tests.csv, tests.csv, file://tests/*.yaml
            items += _test_file(item, loc, ctx)
        else:
            items.append((item, loc))
    judge = None
    options = default.get("options") if isinstance(default.get("options"), dict) else {}
    if "provider" in options:
        judge = _judge_model(
            options["provider"],
            options.key_loc("provider") if isinstance(options, yamlio.YamlMap) else None,
            ctx,
        )
    for key in default:
        if key not in ("vars", "assert", "options"):
            ctx.skip(default.key_loc(key), f"defaultTest.{key}", "promptctl has no counterpart")
    for key in options:
        if key != "provider":
            ctx.skip(
                options.key_loc(key) if isinstance(options, yamlio.YamlMap) else None,
                f"defaultTest.options.{key}",
                "promptctl has no counterpart",
            )
    _check_list(
        default, "assert", data.value_loc("defaultTest") or Location(ctx.shown), "defaultTest", ctx
    )
    default_scorers = [
        s
        for s in (
            _assert(a, _loc(default.get("assert"), i, ctx), ctx, judge)
            for i, a in enumerate(_list(default.get("assert")))
        )
        if s is not None
    ]
    default_vars = _vars(default.get("vars"), default.value_loc("vars"), ctx)
    if default_vars is None:
        default_vars = {}
    out: list[Test] = []
    ids: set[str] = set()
    for n, (item, loc) in enumerate(items):
        out += _test(item, loc, n, default_vars, judge, ids, ctx)
    return default_scorers, out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _check_list(item: Any, key: str, loc: Location, what: str, ctx: _Ctx) -> None:
    if key in item and not isinstance(item[key], list):
        ctx.skip(_value_loc(item, key, loc), f"{what}: {key}", "must be a list; left out")


def _loc(seq: Any, i: int, ctx: _Ctx) -> Location:
    if isinstance(seq, yamlio.YamlList):
        return seq.item_loc(i) or Location(ctx.shown)
    return Location(ctx.shown)


def _test(
    item: Any,
    loc: Location,
    n: int,
    default_vars: dict[str, Any],
    judge: str | None,
    ids: set[str],
    ctx: _Ctx,
) -> list[Test]:
    if not isinstance(item, dict):
        ctx.skip(loc, f"test {n + 1}", "a test must be a mapping with vars and assert")
        return []
    what = f"test {item.get('description') or n + 1!s}"
    for key in item:
        if key not in TEST_KEYS:
            ctx.skip(_key_loc(item, key, loc), f"{what}: {key!r}", "promptctl has no counterpart")
    tags = _tags(item.get("metadata"))
    for key in ("threshold", "provider"):
        if key in item:
            ctx.skip(
                _key_loc(item, key, loc),
                f"{what}: {key}",
                "promptctl has no per-test "
                + {
                    "threshold": "score threshold (each scorer passes or fails)",
                    "provider": "provider (the prompt file names the model)",
                }[key],
            )
    options = item.get("options") if isinstance(item.get("options"), dict) else {}
    test_judge = judge
    if "provider" in options:
        test_judge = _judge_model(options["provider"], _key_loc(options, "provider", loc), ctx)
    for key in options:
        if key != "provider":
            ctx.skip(
                _key_loc(options, key, loc),
                f"{what}: options.{key}",
                "promptctl has no counterpart",
            )
    own = _vars(item.get("vars"), _value_loc(item, "vars", loc), ctx)
    if own is None:
        ctx.skip(loc, what, "its vars could not be imported, so the whole test was left out")
        return []
    _check_list(item, "assert", loc, what, ctx)
    asserts = _list(item.get("assert"))
    scorers: list[Scorer] = []  # this test's own asserts; defaultTest's are the suite's
    for i, a in enumerate(asserts):
        s = _assert(a, _loc(item.get("assert"), i, ctx), ctx, test_judge)
        if s is not None:
            scorers.append(s)
    merged = {**default_vars, **own}
    combos = _expand(merged)
    if len(combos) > MAX_COMBINATIONS:
        ctx.skip(
            loc,
            what,
            f"its array vars make {len(combos)} combinations (more than "
            f"{MAX_COMBINATIONS}); write them as a dataset",
        )
        return []
    desc = item.get("description")
    out = []
    for k, variables in enumerate(combos):
        base = slug(desc, "") if isinstance(desc, str) else ""
        base = base or f"test-{n + 1:03d}"
        if len(combos) > 1:
            base = f"{base}-{k + 1}"
        test = Test(id=unique(base, ids), vars=variables, scorers=scorers, where=loc, tags=tags)
        out.append(test)
    return out


def _tags(metadata: Any) -> list[str] | None:
    """promptfoo's test metadata as tags (`key:value`), so `--filter tag:...` selects by it."""
    if not isinstance(metadata, dict):
        return None
    tags = [
        f"{k}:{v}" if isinstance(v, str | int | float) and not isinstance(v, bool) else str(k)
        for k, v in metadata.items()
    ]
    return tags or None


def _key_loc(item: Any, key: str, loc: Location) -> Location:
    return (item.key_loc(key) if isinstance(item, yamlio.YamlMap) else None) or loc


def _value_loc(item: Any, key: str, loc: Location) -> Location:
    return (item.value_loc(key) if isinstance(item, yamlio.YamlMap) else None) or loc


def _expand(variables: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo runs a test once per combination of its array-valued vars."""
    keys = [k for k, v in variables.items() if isinstance(v, list)]
    if not keys:
        return [variables]
    combos = []
    for values in itertools.product(*(variables[k] for k in keys)):
        if len(combos) > MAX_COMBINATIONS:
            break
        combos.append({**variables, **dict(zip(keys, values, strict=True))})
    return combos


def _vars(raw: Any, loc: Location | None, ctx: _Ctx) -> dict[str, Any] | None:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ctx.skip(loc, "vars", "must be a mapping (vars from files are not supported)")
        return None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        vloc = _value_loc(raw, key, loc or Location(ctx.shown))
        if isinstance(value, str) and value.startswith("file://"):
            loaded = _var_file(value, vloc, ctx)
            if loaded is None:
                return None
            out[str(key)] = loaded
        else:
            out[str(key)] = yamlio.plain(value)
    return out


def _var_file(ref: str, loc: Location, ctx: _Ctx) -> Any:
    suffix = Path(ref.removeprefix("file://")).suffix.lower()
    if suffix in (".js", ".cjs", ".mjs", ".ts", ".py"):
        ctx.skip(loc, f"var {ref}", "vars computed by code cannot be imported")
        return None
    path = ctx.rel(ref, loc, f"var {ref}")
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        ctx.skip(loc, f"var {ref}", f"cannot read it: {getattr(e, 'strerror', e)}")
        return None
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix in (".yaml", ".yml"):
            return yamlio.plain(yamlio.loads(text, ref))
    except (json.JSONDecodeError, UsageError) as e:
        ctx.skip(loc, f"var {ref}", f"not valid {suffix[1:].upper()}: {e}")
        return None
    return text


def _test_file(ref: str, loc: Location, ctx: _Ctx) -> list[tuple[Any, Location]]:
    """Tests from `file://tests.csv`, a bare `tests.csv` (promptfoo reads both), or a glob;
    only files inside the config's directory (issue 19)."""
    rel = ref.removeprefix("file://")
    if rel.startswith(("http://", "https://", "pf://")):
        ctx.skip(loc, f"tests {ref}", "remote tests cannot be read; download them first")
        return []
    if any(ch in rel for ch in "*?["):
        found = ctx.glob(rel, loc, f"tests {ref}")
    elif Path(rel).suffix.lower() in (".js", ".cjs", ".mjs", ".ts", ".py"):
        ctx.skip(loc, f"tests {ref}", "tests generated by code cannot be imported")
        return []
    else:
        one = ctx.rel(rel, loc, f"tests {ref}")
        if one is None:
            return []
        found = [one]
    if not found:
        ctx.skip(loc, f"tests {ref}", "no file matches")
        return []
    out: list[tuple[Any, Location]] = []
    for path in found:
        shown = _rel_shown(path, ctx)
        if path.suffix.lower() in (".js", ".cjs", ".mjs", ".ts", ".py"):
            ctx.skip(loc, f"tests {shown}", "tests generated by code cannot be imported")
        elif not path.is_file():
            ctx.skip(loc, f"tests {shown}", "file not found")
        elif path.suffix.lower() == ".csv":
            out += _csv_tests(path, shown, ctx)
        elif path.suffix.lower() == ".jsonl":
            out += _jsonl_tests(path, shown, ctx)
        elif path.suffix.lower() in (".yaml", ".yml", ".json"):
            try:
                data = yamlio.load_file(path, shown)
            except UsageError as e:
                ctx.skip(loc, f"tests {shown}", f"cannot read it: {e.message}")
                continue
            if isinstance(data, yamlio.YamlList):
                out += [(item, data.item_loc(i) or Location(shown)) for i, item in enumerate(data)]
            else:
                ctx.skip(loc, f"tests {shown}", "a tests file holds a list of tests")
        else:
            ctx.skip(loc, f"tests {shown}", "tests come from .csv, .jsonl, .yaml or .json files")
    return out


def _jsonl_tests(path: Path, shown: str, ctx: _Ctx) -> list[tuple[Any, Location]]:
    out: list[tuple[Any, Location]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append((json.loads(line), Location(shown, n, 1)))
        except ValueError:
            ctx.skip(Location(shown, n, 1), "test", "not a JSON object")
    return out


def _rel_shown(path: Path, ctx: _Ctx) -> str:
    try:
        return path.relative_to(ctx.base).as_posix()
    except ValueError:
        return path.name


_CSV_ASSERT = re.compile(r"^(not-)?([a-z][a-z-]*):\s?(.*)$", re.S)


def _csv_tests(path: Path, shown: str, ctx: _Ctx) -> list[tuple[Any, Location]]:
    """promptfoo's CSV: one column per var, `__expected` holds an assertion, `__description`."""
    out: list[tuple[Any, Location]] = []
    try:
        return _csv_rows(path, shown, ctx, out)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        ctx.skip(Location(shown), f"tests file {shown}", f"cannot read it as CSV: {e}")
        return []


def _csv_rows(
    path: Path, shown: str, ctx: _Ctx, out: list[tuple[Any, Location]]
) -> list[tuple[Any, Location]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            loc = Location(shown, reader.line_num, 1)
            test: dict[str, Any] = {"vars": {}, "assert": []}
            for col, cell in row.items():
                if col is None:
                    ctx.skip(loc, "extra cells", "the row has more cells than the header")
                    continue
                if cell is None:
                    continue
                if col.startswith("__expected"):
                    if cell.strip():
                        test["assert"].append(_csv_assert(cell))
                elif col == "__description":
                    test["description"] = cell
                elif col.startswith("__metadata"):
                    key = col.partition(":")[2].strip()
                    if cell.strip():
                        test.setdefault("metadata", {})[key or "metadata"] = cell.strip()
                elif col.startswith("__"):
                    ctx.skip(loc, f"column {col}", "promptctl has no counterpart")
                else:
                    test["vars"][col] = cell
            out.append((test, loc))
    return out


def _csv_assert(cell: str) -> dict[str, Any]:
    hit = _CSV_ASSERT.match(cell)
    aliases = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}
    if hit:
        name = aliases.get(hit.group(2), hit.group(2))
        if name in (
            *SIMPLE,
            *ANY_ALL,
            "is-json",
            "contains-json",
            "llm-rubric",
            "javascript",
            "python",
            "latency",
            "cost",
            "similar",
            "levenshtein",
        ):
            kind = (hit.group(1) or "") + name
            return {"type": kind, "value": hit.group(3)} if hit.group(3) else {"type": kind}
    return {"type": "equals", "value": cell}


# ----------------------------------------------------------------------------- asserts


def _assert(raw: Any, loc: Location, ctx: _Ctx, judge: str | None) -> Scorer | None:
    if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
        raw = _ref(raw["$ref"], loc, ctx)
        if raw is None:
            return None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        ctx.skip(loc, "assert", "an assert needs a `type`")
        return None
    kind = raw["type"]
    negate = kind.startswith("not-")
    base = kind[4:] if negate else kind
    prefix = "not-" if negate else ""
    what = f"assert {kind}"
    for key in raw:
        if key not in ASSERT_KEYS:
            why = (
                "a transform rewrites the output in code"
                if key == "transform"
                else "promptctl has no counterpart"
            )
            ctx.skip(_key_loc(raw, key, loc), f"{what}: {key}", why + "; the assert was left out")
            return None
    if raw.get("weight", 1) != 1:
        ctx.note(
            _key_loc(raw, "weight", loc),
            f"{what}: weight",
            "promptctl gates each scorer on its own; weights are not used",
        )
    name = raw.get("metric") if isinstance(raw.get("metric"), str) else None
    value = yamlio.plain(raw.get("value"))
    if base in CODE:
        ctx.skip(
            loc,
            what,
            f"{base} asserts run code; promptctl imports no code — rewrite it "
            "as a regex, json-schema or llm-judge scorer",
        )
        return None
    if base in SIMPLE:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            ctx.skip(loc, what, "its value must be text")
            return None
        return Scorer(type=kind, options={}, value=value, varies=not _templated(value), name=name)
    if base in ANY_ALL:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not items or any(not isinstance(v, str) for v in items):
            ctx.skip(loc, what, "its value must be a list of texts (or one comma-separated text)")
            return None
        return Scorer(type=kind, options={}, value=[v.strip() for v in items], name=name)
    if base == "levenshtein":
        if not isinstance(value, str):
            ctx.skip(loc, what, "its value must be text")
            return None
        threshold = raw.get("threshold", 5)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            ctx.skip(loc, what, "its threshold must be a number of edits")
            return None
        return Scorer(type=kind, options={"threshold": int(threshold)}, value=value, name=name)
    if base == "similar":
        if not isinstance(value, str | list):
            ctx.skip(loc, what, "its value must be text")
            return None
        if isinstance(value, list):
            if len(value) != 1 or not isinstance(value[0], str):
                ctx.skip(loc, what, "promptctl compares with one text, not a list")
                return None
            value = value[0]
        options: dict[str, Any] = {"model": _embedding_model(raw.get("provider"), loc, ctx)}
        if "threshold" in raw:
            options["threshold"] = raw["threshold"]
        return Scorer(type=kind, options=options, value=value, name=name)
    if base == "is-json":
        if value is None:
            return Scorer(type=kind, options={}, name=name)
        if isinstance(value, str) and value.startswith("file://"):
            value = _var_file(value, loc, ctx)
            if value is None:
                return None
        if not isinstance(value, dict):
            ctx.skip(loc, what, "its value must be a JSON Schema")
            return None
        return Scorer(type=f"{prefix}json-schema", options={}, value=value, name=name)
    if base == "llm-rubric":
        if not isinstance(value, str):
            ctx.skip(loc, what, "its value must be the rubric text")
            return None
        options: dict[str, Any] = {"rubric": value}
        model = judge
        if "provider" in raw:
            model = _judge_model(raw["provider"], _value_loc(raw, "provider", loc), ctx) or judge
        if model:
            options["model"] = model
        if "threshold" in raw:
            options.update(scale=[0, 1], **{"pass": raw["threshold"]})
        return Scorer(type=f"{prefix}llm-judge", options=options, name=name)
    if base in ("latency", "cost"):
        threshold = raw.get("threshold")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            ctx.skip(loc, what, "needs a numeric `threshold`")
            return None
        # promptfoo's latency threshold is in milliseconds; promptctl's is in seconds.
        limit = threshold / 1000 if base == "latency" else threshold
        return Scorer(type=kind, options={}, value=limit, name=name)
    ctx.skip(
        loc,
        what,
        f"promptctl has no {base!r} scorer (it has: equals, contains, icontains, "
        "starts-with, regex, contains-any/-all, icontains-any/-all, levenshtein, similar, "
        "is-json, json-schema, llm-judge, latency, cost)",
    )
    return None


def _ref(ref: str, loc: Location, ctx: _Ctx) -> Any:
    """A `$ref: '#/assertionTemplates/name'` inside the config (files are never followed)."""
    node: Any = ctx.doc
    if not ref.startswith("#/"):
        ctx.skip(loc, f"assert $ref {ref}", "only references inside the config (#/...) are read")
        return None
    for part in ref[2:].split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        ctx.skip(loc, f"assert $ref {ref}", "it points at nothing in the config")
        return None
    return node


# promptfoo embeds with OpenAI unless told otherwise; the same model keeps `similar` meaning
# the same (drop `model:` to use the offline `similar` extra instead).
DEFAULT_EMBEDDING = "openai/text-embedding-3-large"


def _embedding_model(raw: Any, loc: Location, ctx: _Ctx) -> str:
    pid = raw.get("id") if isinstance(raw, dict) else raw
    if isinstance(pid, str):
        parts = pid.split(":")
        if parts[0] == "openai" and len(parts) == 3 and parts[1] == "embedding":
            return f"openai/{parts[2]}"
        ctx.skip(
            loc,
            f"embedding provider {pid}",
            f"not one promptctl calls; {DEFAULT_EMBEDDING} is used",
        )
    return DEFAULT_EMBEDDING


def _templated(value: str) -> bool:
    return any(tok in value for tok in ("{{", "{%", "{#"))


# ----------------------------------------------------------------------------- suite


def _spec(s: Scorer, sid: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": sid, "type": s.type}
    if s.value is not None:
        spec["value"] = s.value
    spec.update(s.options)
    return spec


def _suite_parts(
    default: list[Scorer], tests: list[Test]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The suite's scorers (defaultTest's asserts) and one dataset row per test, its own asserts
    as the row's `assert:` (ids from metric or type, so the gate pairs them across cases)."""
    ids: set[str] = set()
    specs = [_spec(s, unique(slug(s.name or s.type, "scorer"), ids)) for s in default]
    if not specs:
        # A suite needs a scorer; this one always passes, so the suite records the outputs.
        specs = [{"id": "output", "type": "length", "min": 0}]
    suite_ids = {s["id"] for s in specs}
    rows = []
    for t in tests:
        row: dict[str, Any] = {"id": t.id, "vars": t.vars}
        if t.tags:
            row["tags"] = t.tags
        own: set[str] = set()
        asserts = []
        for s in t.scorers:
            sid = slug(s.name or s.type, "scorer")
            if sid in suite_ids:
                sid = f"{sid}-case"
            asserts.append(_spec(s, unique(sid, own)))
        if asserts:
            row["assert"] = asserts
        rows.append(row)
    return specs, rows
