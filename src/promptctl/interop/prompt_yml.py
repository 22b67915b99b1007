"""GitHub Models `.prompt.yml` <-> promptctl prompt, dataset and suite.

Field by field (docs/coming-from.md has the table):

- name -> the prompt's file name (kebab-case); description -> description
- model (already `<publisher>/<model>`) -> model; modelParameters maxTokens/temperature/topP ->
  params max_tokens/temperature/top_p
- messages -> messages; `{{var}}` placeholders stay Jinja variables, any other `{{`/`{%`/`{#`
  text is wrapped in `{% raw %}` so it renders as written
- responseFormat json_object -> output.format json; json_schema + jsonSchema -> output.schema
  (the jsonSchema `name` travels as the schema's `title`)
- testData -> evals/data/<name>.jsonl (`expected` -> the case's expected, other keys -> vars)
- evaluators -> evals/<name>.yaml: string equals -> equals, contains -> icontains (GitHub
  compares case-insensitively), startsWith -> starts-with, endsWith -> regex; llm -> llm-judge
  (choices become the judge's scale, written into the rubric so the export can restore them)
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.interop.plan import (
    Collector,
    ImportPlan,
    PlannedFile,
    default_gate,
    input_schema,
    jinja_literal,
    jsonl_text,
    slug,
    unique,
    yaml_text,
)
from promptctl.project import yamlio

GH_KEYS = (
    "name",
    "description",
    "model",
    "modelParameters",
    "responseFormat",
    "jsonSchema",
    "messages",
    "testData",
    "evaluators",
)
PARAMS = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p"}
# The Models playground exports snake_case: read too, never written.
SNAKE_PARAMS = {"max_tokens": "max_tokens", "top_p": "top_p"}
RESPONSE_FORMATS = ("text", "json_object", "json_schema")
ROLES = ("system", "user", "assistant")
_GH_VAR = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# How an llm evaluator's choices and system prompt ride inside an llm-judge rubric. The judge
# reads them as instructions; export_prompt parses them back (a round trip loses nothing).
SYSTEM_OPEN, SYSTEM_CLOSE = "<system>\n", "\n</system>\n\n"
CHOICES_HEAD = "\n\nChoices (answer with the score of the choice that fits best):\n"
_CHOICE_LINE = re.compile(r'^- "((?:[^"\\]|\\.)*)": (-?[0-9.eE+-]+)$')


def file_stem(path: Path) -> str:
    name = path.name
    for suffix in (".prompt.yml", ".prompt.yaml", ".yml", ".yaml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def to_jinja(text: str) -> tuple[str, list[str], list[str]]:
    """A GitHub Models template as Jinja: (template, variables in order, placeholders refused)."""
    out: list[str] = []
    names: list[str] = []
    refused: list[str] = []
    pos = 0
    for hit in _GH_VAR.finditer(text):
        name = hit.group(1)
        if not _IDENT.match(name):
            refused.append(hit.group(0))
            continue  # stays part of the literal text around it
        out.append(jinja_literal(text[pos : hit.start()]))
        out.append(hit.group(0))  # `{{input}}` is already a valid Jinja expression
        if name not in names:
            names.append(name)
        pos = hit.end()
    out.append(jinja_literal(text[pos:]))
    return "".join(out), names, refused


# ----------------------------------------------------------------------------- import


def convert(
    data: yamlio.YamlMap,
    shown: str,
    path: Path,
    *,
    prefix: str | None = None,
    model: str | None = None,
) -> ImportPlan:
    """A parsed .prompt.yml -> the files of one prompt (plus its dataset and suite)."""
    c = Collector()
    for key in data:
        if key not in GH_KEYS:
            c.skip(
                data.key_loc(key), f"key {key!r}", "not a .prompt.yml field promptctl knows", shown
            )
    title = data.get("name")
    name = slug(title if isinstance(title, str) and title.strip() else file_stem(path))
    if prefix:
        name = slug(prefix, name)

    prompt: dict[str, Any] = {}
    description = data.get("description")
    if isinstance(description, str) and description.strip():
        prompt["description"] = description.strip()
    prompt["model"] = _model(data, shown, c, model)
    params = _params(data, shown, c)
    if params:
        prompt["params"] = params
    messages, used = _messages(data, shown, c)
    rows = _test_data(data, shown, c, name)
    prompt["input"] = {v: input_schema(r["vars"][v] for r in rows if v in r["vars"]) for v in used}
    for v in used:
        if rows and any(v not in r["vars"] for r in rows):
            # Otherwise such a case could not render (and lint flags it); an empty default
            # keeps every case runnable.
            prompt["input"][v]["default"] = ""
            c.note(
                data.key_loc("testData"),
                f"variable {v!r}",
                'not set by every testData row; declared with default ""',
                shown,
            )
    if not prompt["input"]:
        del prompt["input"]
    prompt["messages"] = messages
    output = _output(data, shown, c)
    if output:
        prompt["output"] = output

    header = f"Imported by promptctl from {shown}"
    if isinstance(title, str) and title.strip():
        header += f' (GitHub Models name: "{title.strip()}")'
    files = [PlannedFile(f"prompts/{name}.yaml", yaml_text(prompt, header), "prompt")]
    scorers = _scorers(data, shown, c)
    if rows:
        files.append(PlannedFile(f"evals/data/{name}.jsonl", jsonl_text(rows), "dataset"))
    if rows and scorers:
        suite: dict[str, Any] = {}
        if isinstance(title, str) and title.strip():
            suite["description"] = title.strip()
        suite.update(
            prompt=name, dataset=f"data/{name}.jsonl", scorers=scorers, gate=default_gate()
        )
        files.append(PlannedFile(f"evals/{name}.yaml", yaml_text(suite, header), "suite"))
    elif scorers:
        c.skip(
            data.key_loc("evaluators"),
            "evaluators",
            "no testData to evaluate them on: add cases, then a suite under evals/",
            shown,
        )
    elif rows:
        c.note(
            data.key_loc("testData"),
            "testData",
            f"imported as evals/data/{name}.jsonl; no evaluators, so no suite was written",
            shown,
        )
    return ImportPlan(
        source=shown,
        format="prompt-yml",
        files=tuple(files),
        skipped=tuple(c.skipped),
        notes=tuple(c.notes),
    )


DEFAULT_MODEL = "openai/gpt-4o-mini"  # what GitHub Models' own examples run


def _model(data: yamlio.YamlMap, shown: str, c: Collector, given: str | None = None) -> str:
    model = data.get("model")
    if given:
        if isinstance(model, str) and model.strip() and model.strip() != given:
            c.note(data.value_loc("model"), f"model {model.strip()!r}", f"--model {given}", shown)
        model = given
    if not isinstance(model, str) or not model.strip():
        # Workflows often pass the model to `gh models eval`; the file then has none.
        c.note(
            data.loc,
            "model",
            f"the file names no model: {DEFAULT_MODEL} was written (pass --model "
            "PROVIDER/MODEL to choose)",
            shown,
        )
        model = DEFAULT_MODEL
    model = model.strip()
    if "/" not in model:
        # Early GitHub Models files named OpenAI models bare (`gpt-4o-mini`).
        c.note(data.value_loc("model"), f"model {model!r}", f"read as openai/{model}", shown)
        model = f"openai/{model}"
    publisher = model.split("/", 1)[0]
    if publisher not in ("openai", "anthropic", "mock"):
        c.skip(
            data.value_loc("model"),
            f"provider {publisher!r}",
            f"not built into promptctl; the prompt keeps model {model} but needs "
            f"`providers: {{{publisher}: {{type: openai, base_url: ...}}}}` in promptctl.yaml "
            "(an OpenAI-compatible endpoint serving it)",
            shown,
        )
    return model


def _params(data: yamlio.YamlMap, shown: str, c: Collector) -> dict[str, Any]:
    raw = data.get("modelParameters")
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise UsageError(
            "modelParameters must be a mapping", where=data.value_loc("modelParameters")
        )
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key in PARAMS or key in SNAKE_PARAMS:
            params[{**PARAMS, **SNAKE_PARAMS}[key]] = value
        else:
            c.skip(
                raw.key_loc(key),
                f"modelParameters.{key}",
                f"not a GitHub Models parameter promptctl maps (known: {', '.join(PARAMS)})",
                shown,
            )
    return params


def _messages(
    data: yamlio.YamlMap, shown: str, c: Collector
) -> tuple[list[dict[str, str]], list[str]]:
    raw = data.get("messages")
    if not isinstance(raw, list) or not raw:
        raise UsageError(
            "`messages:` must be a non-empty list of {role, content}",
            where=data.value_loc("messages") or data.loc,
        )
    out: list[dict[str, str]] = []
    used: list[str] = []
    for i, item in enumerate(raw):
        where = raw.item_loc(i)
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise UsageError(
                f"messages[{i}] must be a mapping with role and content (text)", where=where
            )
        role = str(item.get("role", "")).lower()
        if role not in ROLES:
            c.skip(
                where,
                f"messages[{i}] with role {item.get('role')!r}",
                f"promptctl messages are {', '.join(ROLES)}",
                shown,
            )
            continue
        for key in item:
            if key not in ("role", "content"):
                c.skip(
                    item.key_loc(key),
                    f"messages[{i}].{key}",
                    "messages hold role and content",
                    shown,
                )
        text, names, refused = to_jinja(item["content"])
        for placeholder in refused:
            c.note(
                item.value_loc("content"),
                f"placeholder {placeholder}",
                "not a valid variable name; kept as literal text",
                shown,
            )
        used += [n for n in names if n not in used]
        out.append({"role": role, "content": text})
    if not out:
        raise UsageError(
            "no message with role system, user or assistant", where=data.value_loc("messages")
        )
    return out, used


def _output(data: yamlio.YamlMap, shown: str, c: Collector) -> dict[str, Any]:
    fmt = data.get("responseFormat")
    if fmt is None and "jsonSchema" not in data:
        return {}
    if fmt is not None and fmt not in RESPONSE_FORMATS:
        raise UsageError(
            f"responseFormat {fmt!r} is not one of {', '.join(RESPONSE_FORMATS)}",
            where=data.value_loc("responseFormat"),
        )
    if fmt == "text" or (fmt is None and "jsonSchema" not in data):
        return {}
    if fmt == "json_object":
        if "jsonSchema" in data:
            c.skip(
                data.key_loc("jsonSchema"),
                "jsonSchema",
                "ignored: responseFormat is json_object, not json_schema",
                shown,
            )
        return {"format": "json"}
    raw = data.get("jsonSchema")
    where = data.value_loc("jsonSchema")
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as e:
            raise UsageError(
                f"jsonSchema is not valid JSON: {e.msg} (line {e.lineno} of it)", where=where
            ) from None
    elif isinstance(raw, dict):
        parsed = yamlio.plain(raw)
    else:
        raise UsageError(
            "responseFormat json_schema needs `jsonSchema:` (a JSON string)",
            where=data.key_loc("responseFormat"),
        )
    bare = ("type", "properties", "$schema", "anyOf", "oneOf", "enum")
    if (
        isinstance(parsed, dict)
        and not isinstance(parsed.get("schema"), dict)
        and any(k in parsed for k in bare)
    ):
        # A bare JSON Schema, without the {name, schema} wrapper: the Models UI accepts it.
        return {"format": "json", "schema": dict(parsed)}
    if not isinstance(parsed, dict) or not isinstance(parsed.get("schema"), dict):
        raise UsageError("jsonSchema must hold {name, schema} or be a JSON Schema", where=where)
    schema = dict(parsed["schema"])
    name = parsed.get("name")
    if isinstance(name, str):
        if "title" not in schema:
            schema = {"title": name, **schema}
        elif schema["title"] != name:
            c.skip(
                where,
                f"jsonSchema name {name!r}",
                "the schema has its own title; only the schema is kept",
                shown,
            )
    if isinstance(parsed.get("description"), str):
        if "description" not in schema:
            schema = {**schema, "description": parsed["description"]}
        elif schema["description"] != parsed["description"]:
            c.skip(where, "jsonSchema description", "the schema has its own description", shown)
    if parsed.get("strict") is False:
        c.note(
            where,
            "jsonSchema strict: false",
            "promptctl validates every reply against the schema",
            shown,
        )
    for key in parsed:
        if key not in ("name", "schema", "strict", "description"):
            c.skip(where, f"jsonSchema.{key}", "not part of a response format", shown)
    return {"format": "json", "schema": schema}


def _test_data(data: yamlio.YamlMap, shown: str, c: Collector, name: str) -> list[dict[str, Any]]:
    raw = data.get("testData")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UsageError("testData must be a list of mappings", where=data.value_loc("testData"))
    rows = []
    width = max(3, len(str(len(raw))))
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            c.skip(raw.item_loc(i), f"testData[{i}]", "a test case must be a mapping", shown)
            continue
        row: dict[str, Any] = {"id": f"{name}-{i + 1:0{width}d}"}
        row["vars"] = {str(k): yamlio.plain(v) for k, v in item.items() if k != "expected"}
        if "expected" in item:
            row["expected"] = yamlio.plain(item["expected"])
        rows.append(row)
    return rows


def _scorers(data: yamlio.YamlMap, shown: str, c: Collector) -> list[dict[str, Any]]:
    raw = data.get("evaluators")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise UsageError("evaluators must be a list", where=data.value_loc("evaluators"))
    taken: set[str] = set()
    out = []
    for i, item in enumerate(raw):
        where = raw.item_loc(i)
        if not isinstance(item, dict):
            c.skip(where, f"evaluators[{i}]", "an evaluator must be a mapping", shown)
            continue
        label = item.get("name") if isinstance(item.get("name"), str) else f"evaluator-{i + 1}"
        what = f"evaluator {label!r}"
        if "uses" in item:
            spec = _builtin(item["uses"], where, what, shown, c)
            if spec is not None:
                out.append({"id": unique(slug(label, f"evaluator-{i + 1}"), taken), **spec})
            continue
        if isinstance(item.get("string"), dict):
            spec = _string_scorer(item["string"], where, what, shown, c)
        elif isinstance(item.get("llm"), dict):
            spec = _llm_scorer(item["llm"], where, what, shown, c)
        else:
            c.skip(where, what, "neither `string`, `llm` nor `uses`", shown)
            continue
        if spec is not None:
            out.append({"id": unique(slug(label, f"evaluator-{i + 1}"), taken), **spec})
    return out


# GitHub Models' built-in evaluators -> the nearest promptctl scorer. The LLM-graded ones become
# judge rubrics in their published wording's spirit (1-5 scale, pass at 4).
BUILTIN_RUBRICS = {
    "coherence": "Is the response coherent: logically ordered, consistent, easy to follow?",
    "fluency": "Is the response fluent: grammatical, natural and well-formed language?",
    "relevance": "Does the response address the question asked, without digressions?",
    "groundedness": "Is every claim in the response supported by the given context?",
    # GitHub's similarity is graded by a model too (not embeddings): meaning, not wording.
    "similarity": "Does the response mean the same as the expected answer in the reference?",
}


def _builtin(
    uses: Any, where: Location | None, what: str, shown: str, c: Collector
) -> dict[str, Any] | None:
    name = uses.removeprefix("github/") if isinstance(uses, str) else ""
    if name in BUILTIN_RUBRICS:
        c.note(where, what, "became an llm-judge rubric graded by defaults.judge_model", shown)
        return {"type": "llm-judge", "rubric": BUILTIN_RUBRICS[name], "scale": [1, 5], "pass": 4}
    c.skip(
        where,
        what,
        f"built-in evaluator {uses!r} has no promptctl equivalent; write an llm-judge rubric",
        shown,
    )
    return None


def _string_scorer(
    raw: Mapping[str, Any], where: Location | None, what: str, shown: str, c: Collector
) -> dict[str, Any] | None:
    kinds = [k for k in ("equals", "contains", "startsWith", "endsWith") if k in raw]
    extra = [k for k in raw if k not in ("equals", "contains", "startsWith", "endsWith")]
    if len(kinds) != 1 or extra or not isinstance(raw[kinds[0]], str):
        c.skip(
            where,
            what,
            "a string evaluator needs exactly one of equals, contains, "
            "startsWith, endsWith with a text value",
            shown,
        )
        return None
    kind, value = kinds[0], raw[kinds[0]]
    text, _, _ = to_jinja(value)
    if kind == "equals":
        return {"type": "equals", "value": text}
    if kind == "contains":
        return {"type": "icontains", "value": text}
    if kind == "startsWith":
        c.note(
            where,
            what,
            "startsWith became starts-with, which is case-sensitive (GitHub "
            "Models compares case-insensitively)",
            shown,
        )
        return {"type": "starts-with", "value": text}
    if _GH_VAR.search(value):
        c.skip(
            where,
            what,
            "endsWith with a {{variable}} cannot become a regex (promptctl has "
            "no ends-with scorer)",
            shown,
        )
        return None
    return {"type": "regex", "value": jinja_literal(ends_with_regex(value))}


def ends_with_regex(text: str) -> str:
    """GitHub's endsWith (case-insensitive suffix) as the regex export_prompt recognises."""
    return f"(?i){re.escape(text)}$"


def _llm_scorer(
    raw: Mapping[str, Any], where: Location | None, what: str, shown: str, c: Collector
) -> dict[str, Any] | None:
    prompt = raw.get("prompt")
    choices = raw.get("choices")
    if not isinstance(prompt, str) or not isinstance(choices, list) or not choices:
        c.skip(where, what, "an llm evaluator needs `prompt` and `choices`", shown)
        return None
    pairs: list[tuple[str, float]] = []
    for choice in choices:
        if (
            not isinstance(choice, dict)
            or not isinstance(choice.get("choice"), str)
            or isinstance(choice.get("score"), bool)
            or not isinstance(choice.get("score"), int | float)
        ):
            c.skip(where, what, "each choice needs `choice` (text) and `score` (a number)", shown)
            return None
        pairs.append((choice["choice"], choice["score"]))
    for key in raw:
        if key not in ("prompt", "choices", "modelId", "systemPrompt"):
            c.skip(where, f"{what}: llm.{key}", "not an llm evaluator field", shown)
    scores = [s for _, s in pairs]
    positive = [s for s in scores if s > 0]
    spec: dict[str, Any] = {"type": "llm-judge"}
    model = raw.get("modelId")
    if isinstance(model, str) and model.strip():
        spec["model"] = model if "/" in model else f"openai/{model}"
    system = raw.get("systemPrompt") if isinstance(raw.get("systemPrompt"), str) else None
    spec["rubric"] = encode_rubric(prompt, pairs, system)
    low, high = min(scores), max(scores)
    if low == high:
        c.skip(where, what, "every choice has the same score; nothing to judge", shown)
        return None
    spec["scale"] = [_num(low), _num(high)]
    # GitHub counts a case as passed when the chosen choice scores above 0.
    spec["pass"] = _num(min(positive)) if positive else _num(high)
    c.note(
        where,
        what,
        "the judge answers with a score on the choices' scale instead of naming a choice",
        shown,
    )
    return spec


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def encode_rubric(prompt: str, pairs: list[tuple[str, float]], system: str | None) -> str:
    lines = "\n".join(
        f"- {json.dumps(choice, ensure_ascii=False)}: {_num(score)}" for choice, score in pairs
    )
    head = f"{SYSTEM_OPEN}{system}{SYSTEM_CLOSE}" if system else ""
    return f"{head}{prompt}{CHOICES_HEAD}{lines}"


def decode_rubric(rubric: str) -> tuple[str, list[tuple[str, float]], str | None] | None:
    """The (prompt, choices, system prompt) encode_rubric wrote, or None for any other rubric."""
    system = None
    if rubric.startswith(SYSTEM_OPEN):
        end = rubric.find(SYSTEM_CLOSE)
        if end < 0:
            return None
        system = rubric[len(SYSTEM_OPEN) : end]
        rubric = rubric[end + len(SYSTEM_CLOSE) :]
    prompt, sep, tail = rubric.rpartition(CHOICES_HEAD)
    if not sep:
        return None
    pairs = []
    for line in tail.splitlines():
        hit = _CHOICE_LINE.match(line)
        if not hit:
            return None
        pairs.append((json.loads(f'"{hit.group(1)}"'), _num(float(hit.group(2)))))
    return prompt, pairs, system


# ----------------------------------------------------------------------------- export

_RAW_BLOCK = re.compile(r"\{% raw %\}(.*?)\{% endraw %\}", re.S)
_JINJA_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ENDRAW_ESCAPE = "{{ '{% endraw %}' }}"


def from_jinja(text: str, what: str, where: Location | None) -> str:
    """A promptctl template as GitHub Models text; Jinja beyond `{{ var }}` cannot go there."""
    out: list[str] = []
    pos = 0
    for hit in _RAW_BLOCK.finditer(text):
        out.append(_vars_only(text[pos : hit.start()], what, where))
        out.append(hit.group(1))
        pos = hit.end()
    out.append(_vars_only(text[pos:], what, where))
    return "".join(out)


def _vars_only(text: str, what: str, where: Location | None) -> str:
    return "{% endraw %}".join(
        _plain_vars(part, what, where) for part in text.split(_ENDRAW_ESCAPE)
    )


def _plain_vars(text: str, what: str, where: Location | None) -> str:
    rest = _JINJA_VAR.sub("", text)
    if any(tok in rest for tok in ("{{", "{%", "{#")):
        raise UsageError(
            f"{what} uses Jinja beyond {{{{ variable }}}} (filters, tags or comments); GitHub "
            "Models only substitutes {{name}}",
            where=where,
            hint="simplify the template, or keep this prompt in promptctl form",
        )
    return _JINJA_VAR.sub(lambda m: "{{" + m.group(1) + "}}", text)


def export_prompt(project: Any, prompt: Any, suite: Any = None) -> str:
    """A prompt (and optionally its suite) as GitHub Models `.prompt.yml` text.

    Args:
        project: the `config.Project` the prompt and suite belong to.
        prompt: a loaded `Prompt`.
        suite: a loaded `model.Suite` of that prompt; its cases become `testData` and its
            scorers `evaluators`.

    Returns:
        The file text. Whatever has no .prompt.yml counterpart is named in comments at the top;
        nothing is dropped silently.

    Raises:
        UsageError: a template uses Jinja beyond `{{ var }}`.
    """
    lost: list[str] = []
    out: dict[str, Any] = {"name": prompt.name}
    if prompt.description:
        out["description"] = prompt.description
    out["model"] = prompt.model
    if prompt.provider not in ("openai",):
        lost.append(f"model {prompt.model}: GitHub Models may not serve this model")
    reverse = {v: k for k, v in PARAMS.items()}
    params = {reverse[k]: v for k, v in prompt.params.items() if k in reverse}
    lost += [
        f"params.{k}: no modelParameters counterpart" for k in prompt.params if k not in reverse
    ]
    if params:
        out["modelParameters"] = params
    if prompt.output.format == "json":
        if prompt.output.schema is not None:
            schema = dict(prompt.output.schema)
            name = schema.pop("title", None)
            doc: dict[str, Any] = {
                "name": name
                if isinstance(name, str)
                else re.sub(r"[^A-Za-z0-9_-]", "_", prompt.name)
            }
            if isinstance(schema.get("description"), str):
                doc["description"] = schema.pop("description")
            doc["strict"] = True
            doc["schema"] = schema
            out["responseFormat"] = "json_schema"
            out["jsonSchema"] = json.dumps(doc, indent=2, ensure_ascii=False)
        else:
            out["responseFormat"] = "json_object"
    out["messages"] = [
        {"role": m.role, "content": from_jinja(m.content, f"prompt {prompt.name!r}", m.source)}
        for m in prompt.messages
    ]
    defaults = {k: v["default"] for k, v in prompt.input.items() if "default" in v}
    if defaults:
        lost.append(f"input defaults ({', '.join(defaults)}): written into every testData row")
    if suite is not None:
        rows = [_test_row(case, defaults) for case in _cases(project, suite)]
        if rows:
            out["testData"] = rows
        evaluators = [e for e in (_evaluator(s, lost) for s in suite.scorers) if e is not None]
        if evaluators:
            out["evaluators"] = evaluators
        gate = suite.gate
        if gate.min_pass_rate is not None or gate.max_cost_usd is not None:
            lost.append(f"gate of suite {suite.name!r}: GitHub Models has no gate")
        if suite.repeat != 1:
            lost.append(f"repeat: {suite.repeat}: GitHub Models runs each case once")
    header = f"Exported by promptctl from {prompt.source.path} (version {prompt.version})"
    if lost:
        header += "\nNot exported (no .prompt.yml counterpart):\n" + "\n".join(
            f"  - {line}" for line in lost
        )
    return yaml_text(out, header)


def _cases(project: Any, suite: Any) -> list[Any]:
    if suite.dataset is None:
        return list(suite.cases)
    from promptctl.evals import datasets

    path = Path(suite.dataset)
    return list(datasets.iter_file(path, project.rel(path)))


def _test_row(case: Any, defaults: Mapping[str, Any]) -> dict[str, Any]:
    row = {**defaults, **dict(case.vars)}
    if case.expected is not None:
        row["expected"] = case.expected
    return row


def _evaluator(spec: Any, lost: list[str]) -> dict[str, Any] | None:
    value = spec.value
    kind = None
    if not spec.negate and isinstance(value, str):
        if spec.type == "equals":
            kind = "equals"
        elif spec.type in ("icontains", "contains"):
            kind = "contains"
            if spec.type == "contains":
                lost.append(f"scorer {spec.id!r}: contains is case-sensitive; GitHub's is not")
        elif spec.type == "starts-with":
            kind = "startsWith"
        elif spec.type == "regex":
            suffix = _ends_with(value)
            if suffix is not None:
                return {"name": spec.id, "string": {"endsWith": suffix}}
    if kind is not None:
        return {
            "name": spec.id,
            "string": {kind: from_jinja(value, f"scorer {spec.id!r}", spec.source)},
        }
    if spec.type == "llm-judge" and not spec.negate:
        builtin = next(
            (n for n, r in BUILTIN_RUBRICS.items() if spec.options.get("rubric") == r), None
        )
        if builtin is not None:  # imported from `uses: github/<name>`: back to it
            return {"name": spec.id, "uses": f"github/{builtin}"}
        return _llm_evaluator(spec, lost)
    prefix = "not-" if spec.negate else ""
    lost.append(f"scorer {spec.id!r} ({prefix}{spec.type}): no GitHub Models evaluator")
    return None


def _ends_with(value: str) -> str | None:
    raw = _RAW_BLOCK.fullmatch(value)
    pattern = raw.group(1) if raw else value
    if not (pattern.startswith("(?i)") and pattern.endswith("$")):
        return None
    body = pattern[4:-1]
    text = re.sub(r"\\(.)", r"\1", body, flags=re.S)
    return text if re.escape(text) == body else None


def _llm_evaluator(spec: Any, lost: list[str]) -> dict[str, Any] | None:
    opts = spec.options
    rubric = opts.get("rubric")
    if not isinstance(rubric, str):
        lost.append(f"scorer {spec.id!r}: an llm-judge without a rubric")
        return None
    decoded = decode_rubric(rubric)
    llm: dict[str, Any] = {}
    if isinstance(opts.get("model"), str):
        llm["modelId"] = opts["model"]
    else:
        lost.append(f"scorer {spec.id!r}: no judge model (the project default is not exported)")
    if decoded is not None:
        prompt, pairs, system = decoded
    else:
        low, high = opts.get("scale") or [1, 5]
        prompt = rubric + "\n\nAnswer with one number from the scale."
        span = (high - low) or 1
        pairs = [(str(n), _num(round((n - low) / span, 4))) for n in range(int(low), int(high) + 1)]
        system = None
        lost.append(f"scorer {spec.id!r}: the judge's scale became choices {low}..{high}")
    llm["prompt"] = prompt
    llm["choices"] = [{"choice": choice, "score": score} for choice, score in pairs]
    if system is not None:
        llm["systemPrompt"] = system
    return {"name": spec.id, "llm": llm}
