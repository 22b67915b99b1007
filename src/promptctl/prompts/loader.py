"""Prompt files -> Prompt objects: validation, canonical form, version hash, NAME@REF resolution."""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.model import MODEL_ID_PATTERN, Message, OutputSpec, Use, canonical_json
from promptctl.project import yamlio
from promptctl.project.checks import Checker, did_you_mean
from promptctl.project.config import Project
from promptctl.prompts.prompt import Prompt
from promptctl.registry import providers

PROMPT_KEYS = (
    "uses",
    "description",
    "model",
    "params",
    "input",
    "messages",
    "template",
    "output",
    "tags",
)
ROLES = ("system", "user", "assistant")
_MODEL_ID = re.compile(MODEL_ID_PATTERN)
VERSION_RE = re.compile(r"^[0-9a-f]{12}$")  # a prompt version: 12 hex digits

# Ranges every provider of a type enforces; anything else is passed through as written.
PARAM_RANGES: dict[str, dict[str, tuple[float, float | None, bool]]] = {
    "openai": {
        "temperature": (0, 2, False),
        "top_p": (0, 1, False),
        "max_tokens": (1, None, True),
        "max_completion_tokens": (1, None, True),
        "presence_penalty": (-2, 2, False),
        "frequency_penalty": (-2, 2, False),
        "seed": (0, None, True),
        "n": (1, 1, True),
    },
    "anthropic": {
        "temperature": (0, 1, False),
        "top_p": (0, 1, False),
        "top_k": (1, None, True),
        "max_tokens": (1, None, True),
    },
    "mock": {"temperature": (0, 2, False), "top_p": (0, 1, False), "max_tokens": (1, None, True)},
}
KNOWN_PARAMS: dict[str, set[str]] = {
    "openai": set(PARAM_RANGES["openai"])
    | {
        "stop",
        "logit_bias",
        "reasoning_effort",
        "user",
        "logprobs",
        "top_logprobs",
        "service_tier",
    },
    "anthropic": set(PARAM_RANGES["anthropic"]) | {"stop_sequences", "metadata", "thinking"},
    "mock": set(PARAM_RANGES["mock"]) | {"seed", "stop", "replies", "reply", "latency_ms"},
}


@dataclass(frozen=True, slots=True)
class Source:
    """Where a prompt's files are read from: the working tree (`rev` None) or one git commit.

    A prompt and everything that renders it (partials, used prompts) come from one source, so a
    prompt loaded at a revision renders that revision's bytes (issue 14 §2)."""

    project: Project
    rev: str | None = None  # a full commit sha

    def read_partial(self, name: str) -> str | None:
        if self.rev is None:
            from promptctl.prompts import rendering

            try:
                return rendering.read_partial_file(self.project.partials_dir, name)
            except (OSError, UnicodeDecodeError, rendering.SecurityError):
                return None  # rendering says what is wrong with it, at the template's line
        from promptctl.history import gitrepo

        data = gitrepo.read_file(self.project.root, self.rev, self.project.partials_dir / name)
        return data.decode("utf-8", errors="replace") if data is not None else None

    def load(self, name: str) -> Prompt:
        """The prompt `name` from this source (linked: its own `uses:` resolved)."""
        if self.rev is None:
            files = prompt_files(self.project)
            if name not in files:
                raise unknown_prompt(self.project, name)
            return load_prompt_file(self.project, files[name])
        from promptctl.history import gitrepo

        path = self.project.prompts_dir / f"{name}.yaml"
        data = gitrepo.read_file(self.project.root, self.rev, path)
        if data is None:
            raise UsageError(
                f"prompt {name!r} does not exist at {self.rev[:12]}",
                hint=f"check `promptctl log {name}` for the revisions that have it",
            )
        shown = f"{self.project.rel(path)}@{self.rev[:7]}"
        prompt = load_prompt_text(
            yamlio.decode(data, shown), name, shown, self.project, source=self
        )
        object.__setattr__(prompt, "commit", self.rev)
        return prompt

    def partial_names(self) -> list[str]:
        root = self.project.partials_dir
        if self.rev is None:
            if not root.is_dir():
                return []
            return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        from promptctl.history import gitrepo

        top = gitrepo.toplevel(self.project.root)
        prefix = root.resolve().relative_to(top).as_posix() + "/"
        return [
            p.removeprefix(prefix)
            for p in gitrepo.list_files(self.project.root, self.rev, root)
            if p.startswith(prefix)
        ]


def partials_of(messages: tuple[Message, ...], source: Source) -> dict[str, str]:
    """The partials `messages` load, transitively, read from `source` (jinja2 is imported only
    when a template has a `{%` tag: most prompts never pay for it)."""
    if not any("{%" in m.content for m in messages):
        return {}
    from promptctl.prompts import rendering

    found = rendering.collect_partials(
        [m.content for m in messages], source.read_partial, list_all=source.partial_names
    )
    return {name: text for name, text in found.items() if text is not None}


def canonical_form(prompt: Prompt) -> dict[str, Any]:
    """What the version hashes: the request-shaping content, not description or tags."""
    return {
        "messages": [{"role": m.role, "content": m.content} for m in prompt.messages],
        "model": prompt.model,
        "params": yamlio.plain(dict(prompt.params)),
        "input": yamlio.plain(dict(prompt.input)),
        "output": {"format": prompt.output.format, "schema": yamlio.plain(prompt.output.schema)},
    }


def version_of(prompt: Prompt) -> str:
    """The effective version: the one version printed, stored and matched by NAME@version.

    SHA-256 of the canonical form and, when there are any, of the text of every partial the
    prompt loads (transitively). A prompt without partials hashes its canonical form alone, so
    its version is what it was before partials counted (no churn for existing baselines and
    labels)."""
    form: dict[str, Any] = canonical_form(prompt)
    if prompt.partials or prompt.uses:
        form = {"prompt": form, "partials": dict(sorted(prompt.partials.items()))}
        if prompt.uses:  # the upstreams' effective versions: a change upstream is a change here
            form["uses"] = {u.alias: u.version for u in prompt.uses}
    return hashlib.sha256(canonical_json(form).encode("utf-8")).hexdigest()[:12]


def provider_type(project: Project, provider: str) -> str | None:
    if provider in project.config.providers:
        return project.config.providers[provider].type
    return provider if provider in providers else None


def parse_prompt(
    data: yamlio.YamlMap,
    name: str,
    shown: str,
    project: Project,
    checker: Checker,
    *,
    lenient: bool = False,
    source: Source | None = None,
) -> Prompt | None:
    """Validate a loaded prompt file; every problem goes to `checker`. None if unusable.

    `lenient` (lint) still returns a Prompt when only fields other than the messages are
    broken, so the template checks can report too.
    """
    checker.keys(data, PROMPT_KEYS, "prompt file", required=("model",))
    model = checker.typed(data, "model", str, what="prompt file")
    if model is not None and not _MODEL_ID.match(model):
        checker.add(
            "PC104",
            f"model {model!r} must be <provider>/<model id>",
            data.value_loc("model"),
            "e.g. openai/gpt-4o-mini or mock/echo; providers: "
            + ", ".join(project.provider_names()),
        )
        model = None
    ptype = None
    if model is not None:
        provider = model.split("/", 1)[0]
        ptype = provider_type(project, provider)
        if ptype is None:
            hint = did_you_mean(provider, project.provider_names())
            checker.add(
                "PC105",
                f"unknown provider {provider!r}",
                data.value_loc("model"),
                (hint + " " if hint else "")
                + f"known: {', '.join(project.provider_names())}; others go under providers: "
                "in promptctl.yaml",
            )

    uses = _uses(data, checker)
    messages = _messages(data, shown, checker)
    params = checker.typed(data, "params", dict, what="prompt file") or yamlio.YamlMap()
    if ptype is not None:
        _check_params(params, ptype, checker)
    inputs = _inputs(data, checker)
    output = _output(data, checker)
    description = checker.typed(data, "description", str, what="prompt file") or ""
    tags = checker.typed(data, "tags", list, what="prompt file") or []
    if any(not isinstance(t, str) for t in tags):
        checker.add("PC004", "tags must be strings", data.value_loc("tags"))
    if messages is None or (not lenient and (checker.errors or model is None)):
        return None
    prompt = Prompt(
        name=name,
        version="",
        model=model or "unknown/unknown",
        messages=messages,
        params=yamlio.plain(params),
        input={k: v for k, v in yamlio.plain(inputs).items() if isinstance(v, dict)},
        output=output,
        description=description.strip(),
        tags=tuple(str(t) for t in tags),
        source=Location(shown, 1, 1),
        input_source=data.key_loc("input") if "input" in data else None,
        uses_template="template" in data,
        partials_dir=str(project.partials_dir),
        partials=partials_of(messages, source or Source(project)),
        uses=uses,
    )
    object.__setattr__(prompt, "version", version_of(prompt))
    return prompt


def _uses(data: yamlio.YamlMap, checker: Checker) -> tuple[Use, ...]:
    """`uses: {alias: NAME[@REF]}` or `uses: [NAME, ...]` (the alias is the name's last part)."""
    if "uses" not in data:
        return ()
    raw = data["uses"]
    out: list[Use] = []
    if isinstance(raw, yamlio.YamlMap):
        for alias, ref in raw.items():
            if not isinstance(alias, str) or not alias.isidentifier():
                checker.add(
                    "PC004",
                    f"uses: {alias!r} is not a valid alias (templates read uses.<alias>)",
                    raw.key_loc(alias),
                )
            elif not isinstance(ref, str) or not ref.strip():
                checker.add("PC004", f"uses.{alias} must be NAME or NAME@REF", raw.value_loc(alias))
            else:
                out.append(Use(alias=alias, ref=ref.strip(), source=raw.value_loc(alias)))
    elif isinstance(raw, list):
        for i, ref in enumerate(raw):
            alias = ref.split("@", 1)[0].rsplit("/", 1)[-1] if isinstance(ref, str) else ""
            if not alias.isidentifier():
                checker.add(
                    "PC004",
                    f"uses[{i}]: {ref!r} gives no valid alias",
                    raw.item_loc(i),
                    "name one: uses: {alias: NAME@REF}",
                )
            else:
                out.append(Use(alias=alias, ref=ref.strip(), source=raw.item_loc(i)))
    else:
        checker.add(
            "PC004",
            "uses must be a mapping {alias: NAME[@REF]} or a list of prompt names",
            data.value_loc("uses"),
        )
    aliases = [u.alias for u in out]
    for use in out:
        if aliases.count(use.alias) > 1:
            checker.add("PC004", f"uses: the alias {use.alias!r} appears twice", use.source)
            return ()
    return tuple(out)


# The prompts being linked in this context, outermost first: a `uses:` cycle is caught when a
# name comes round again, whichever revision or label it was reached through.
_linking: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar(
    "promptctl_linking", default=()
)


def link(prompt: Prompt, source: Source) -> Prompt:
    """Resolve the prompt's `uses:` (from `source`, or by their @REF) and set its effective
    version. A cycle, an unknown upstream or label is a UsageError at the `uses:` entry."""
    if not prompt.uses:
        return prompt
    stack = (*_linking.get(), prompt.name)
    token = _linking.set(stack)
    try:
        upstreams: dict[str, Prompt] = {}
        uses = []
        for use in prompt.uses:
            name, rev = split_ref(use.ref)
            if name in stack:
                cycle = " -> ".join([*stack[stack.index(name) :], name])
                raise UsageError(
                    f"uses: a cycle: {cycle}",
                    where=use.source,
                    hint="a prompt cannot use itself, directly or through others",
                )
            try:
                upstream = source.load(name) if rev is None else resolve(use.ref, source.project)
            except UsageError as e:
                if e.message.startswith("uses"):  # a cycle or a bad use further up: as is
                    raise UsageError(e.message, where=use.source, hint=e.hint) from None
                raise UsageError(
                    f"uses.{use.alias}: {e.message}", where=use.source, hint=e.hint
                ) from None
            upstreams[use.alias] = upstream
            uses.append(
                Use(alias=use.alias, ref=use.ref, version=upstream.version, source=use.source)
            )
    finally:
        _linking.reset(token)
    object.__setattr__(prompt, "uses", tuple(uses))
    object.__setattr__(prompt, "upstreams", upstreams)
    object.__setattr__(prompt, "version", version_of(prompt))
    return prompt


def _messages(data: yamlio.YamlMap, shown: str, checker: Checker) -> tuple[Message, ...] | None:
    if "messages" in data and "template" in data:
        checker.add(
            "PC004", "use either `messages` or `template`, not both", data.key_loc("template")
        )
        return None
    if "template" in data:
        text = checker.typed(data, "template", str, what="prompt file")
        if text is None:
            return None
        return (Message(role="user", content=text, source=data.value_loc("template")),)
    if "messages" not in data:
        checker.add(
            "PC005",
            "prompt file needs `messages` or `template`",
            data.loc,
            "add `template: ...` or a `messages:` list",
        )
        return None
    raw = checker.typed(data, "messages", list, what="prompt file")
    if raw is None:
        return None
    if not raw:
        checker.add("PC004", "messages is empty", data.value_loc("messages"), "add a message")
        return None
    out: list[Message] = []
    for i, item in enumerate(raw):
        if not isinstance(item, yamlio.YamlMap):
            checker.add(
                "PC004", f"messages[{i}] must be a mapping with role and content", raw.item_loc(i)
            )
            continue
        checker.keys(item, ("role", "content"), f"messages[{i}]", required=("role", "content"))
        role = checker.typed(item, "role", str, what=f"messages[{i}]")
        content = checker.typed(item, "content", str, what=f"messages[{i}]")
        if role is not None and role not in ROLES:
            checker.add(
                "PC004",
                f"messages[{i}]: role must be one of {', '.join(ROLES)}",
                item.value_loc("role"),
                did_you_mean(role, ROLES),
            )
        if role is not None and content is not None:
            out.append(Message(role=role, content=content, source=item.value_loc("content")))
    return tuple(out) if len(out) == len(raw) else None


def _check_params(params: yamlio.YamlMap, ptype: str, checker: Checker) -> None:
    ranges = PARAM_RANGES.get(ptype, {})
    for key, value in params.items():
        if key in ranges:
            low, high, integer = ranges[key]
            bad_type = (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or (integer and not isinstance(value, int))
            )
            if bad_type or value < low or (high is not None and value > high):
                span = f"{low}..{high}" if high is not None else f">= {low}"
                kind = "an integer" if integer else "a number"
                checker.add(
                    "PC106",
                    f"params.{key} must be {kind} in {span} for {ptype}, not {value!r}",
                    params.value_loc(key),
                )
        # a plug-in provider's parameters are its own: passed through unchecked
        elif ptype in KNOWN_PARAMS and key not in KNOWN_PARAMS[ptype]:
            checker.add(
                "PC110",
                f"params.{key} is not a known {ptype} parameter",
                params.key_loc(key),
                did_you_mean(key, KNOWN_PARAMS.get(ptype, ()))
                or "it is passed through as written; check the provider's docs",
            )


def _inputs(data: yamlio.YamlMap, checker: Checker) -> yamlio.YamlMap:
    raw = checker.typed(data, "input", dict, what="prompt file")
    if raw is None:
        return yamlio.YamlMap()
    for key, value in raw.items():
        if not isinstance(key, str) or not key.isidentifier():
            checker.add("PC004", f"input: {key!r} is not a valid variable name", raw.key_loc(key))
        if value is None:
            raw[key] = yamlio.YamlMap()
        elif not isinstance(value, dict):
            checker.add(
                "PC108",
                f"input.{key} must be a JSON Schema mapping like {{type: string}}",
                raw.value_loc(key),
            )
    return raw


def _output(data: yamlio.YamlMap, checker: Checker) -> OutputSpec:
    raw = checker.typed(data, "output", dict, what="prompt file")
    if raw is None:
        return OutputSpec()
    checker.keys(raw, ("format", "schema"), "output")
    fmt = checker.typed(raw, "format", str, what="output")
    schema = checker.typed(raw, "schema", dict, what="output")
    if fmt is not None and fmt not in ("text", "json"):
        checker.add("PC004", "output.format must be text or json", raw.value_loc("format"))
        fmt = None
    if schema is not None and fmt == "text":
        checker.add("PC004", "output.schema needs output.format: json", raw.value_loc("format"))
    return OutputSpec(
        format=fmt or ("json" if schema is not None else "text"),
        schema=yamlio.plain(schema) if schema is not None else None,
    )


# ----------------------------------------------------------------------------- discovery


def prompt_files(project: Project) -> dict[str, Path]:
    """name -> path for every prompt file under prompts/ (partials excluded)."""
    root = project.prompts_dir
    partials = project.partials_dir
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*.yaml")) + sorted(root.rglob("*.yml")):
        if partials in path.parents:
            continue
        name = path.relative_to(root).with_suffix("").as_posix()
        found.setdefault(name, path)
    return dict(sorted(found.items()))


def prompt_name_for(project: Project, path: Path) -> str:
    return path.resolve().relative_to(project.prompts_dir).with_suffix("").as_posix()


def load_prompt_text(
    text: str, name: str, shown: str, project: Project, *, source: Source | None = None
) -> Prompt:
    checker = Checker(shown)
    data = yamlio.expect_mapping(yamlio.loads(text, shown), shown, what="prompt file")
    prompt = parse_prompt(data, name, shown, project, checker, source=source)
    checker.raise_first()
    assert prompt is not None
    return link(prompt, source or Source(project))


def load_prompt_file(project: Project, path: Path) -> Prompt:
    shown = project.rel(path)
    data = yamlio.load_mapping(path, shown, what="prompt file", root=project.root)
    checker = Checker(shown)
    prompt = parse_prompt(data, prompt_name_for(project, path), shown, project, checker)
    checker.raise_first()
    assert prompt is not None
    return link(prompt, Source(project))


def load_all(project: Project) -> list[Prompt]:
    return [load_prompt_file(project, p) for p in prompt_files(project).values()]


def split_ref(ref: str) -> tuple[str, str | None]:
    name, sep, rev = ref.partition("@")
    if not name:
        raise UsageError(f"{ref!r} names no prompt", hint="write NAME or NAME@REF")
    if sep and not rev:
        raise UsageError(f"{ref!r} has an empty @REF", hint="write NAME@<version|label|git rev>")
    return name.removesuffix(".yaml"), (rev or None)


def unknown_prompt(project: Project, name: str) -> UsageError:
    names = list(prompt_files(project))
    hint = did_you_mean(name, names)
    listing = ", ".join(names[:20]) if names else f"none under {project.rel(project.prompts_dir)}/"
    return UsageError(
        f"unknown prompt {name!r}",
        hint=(hint + " " if hint else "") + f"known prompts: {listing}",
    )


# ----------------------------------------------------------------------------- NAME@REF
# Here, not in history/: loading a prompt resolves its `uses:` refs (link), and resolving a ref
# loads prompts; one module keeps that recursion free of an import cycle.


# (name, label) -> the prompt that label is about to serve: promote evaluates the prompts that
# pin `name@label` against the candidate before the label moves (issue 14 §5).
_serving: contextvars.ContextVar[Mapping[tuple[str, str], Prompt] | None] = contextvars.ContextVar(
    "promptctl_serving", default=None
)


@contextlib.contextmanager
def serving(name: str, label: str, prompt: Prompt) -> Iterator[None]:
    """Inside this block `name@label` resolves to `prompt`, as if the label had moved."""
    token = _serving.set({**(_serving.get() or {}), (name, label): prompt})
    try:
        yield
    finally:
        _serving.reset(token)


def resolve(ref: str, project: Project) -> Prompt:
    """NAME, NAME@<12-hex version>, NAME@<label> or NAME@<git rev> -> Prompt."""
    name, rev = split_ref(ref)
    served = _serving.get() or {}
    if rev is not None and (name, rev) in served:
        return served[(name, rev)]
    files = prompt_files(project)
    if rev is None:
        if name not in files:
            raise unknown_prompt(project, name)
        return load_prompt_file(project, files[name])
    if name in files and VERSION_RE.match(rev):
        current = load_prompt_file(project, files[name])
        if current.version == rev:
            return current
    return resolve_rev(project, name, rev, in_tree=name in files)


def load_at(project: Project, name: str, rev: str) -> Prompt | None:
    """The prompt `name` as committed at `rev`; None when the file did not exist there."""
    from promptctl.history import gitrepo  # git only when a ref needs it

    path = project.prompts_dir / f"{name}.yaml"
    data = gitrepo.read_file(project.root, rev, path)
    if data is None:
        return None
    sha = gitrepo.resolve_commit(project.root, rev)
    shown = f"{project.rel(path)}@{sha[:7]}"
    prompt = load_prompt_text(
        yamlio.decode(data, shown), name, shown, project, source=Source(project, sha)
    )
    object.__setattr__(prompt, "commit", sha)
    return prompt


def find_version(project: Project, name: str, version: str) -> Prompt | None:
    """The newest commit whose copy of `name` has `version`: commits touching anything under
    prompts/ are searched, since a partial's change makes a version too."""
    from promptctl.history import gitrepo  # git only when a ref needs it

    for commit in gitrepo.file_history(project.root, project.prompts_dir):
        try:
            prompt = load_at(project, name, commit.sha)
        except UsageError:
            continue
        if prompt is not None and prompt.version == version:
            return prompt
    return None


def resolve_rev(project: Project, name: str, rev: str, *, in_tree: bool) -> Prompt:
    from promptctl.history import gitrepo  # git only when a ref needs it

    label = _label_target(project, name, rev)
    if label is not None:
        return load_labelled(project, name, rev, *label)
    if VERSION_RE.match(rev) and gitrepo.is_repo(project.root):
        found = find_version(project, name, rev)
        if found is not None:
            return found
    if not gitrepo.is_repo(project.root):
        if gitrepo.is_bare(project.root):
            gitrepo.open_repo(project.root, why=f"{name}@{rev}")  # says: no working tree
        if not in_tree:
            raise unknown_prompt(project, name)
        raise UsageError(
            f"{name}@{rev}: no such version or label, and this is not a git repository",
            hint="NAME@<git rev> needs git; NAME@<version> must be the current version outside git",
        )
    try:
        prompt = load_at(project, name, rev)
    except UsageError as e:
        if not e.message.startswith("git does not know the revision"):
            raise
        from promptctl.labels import store as labels

        held = sorted(labels.read(project).get(name, {}))
        shallow = gitrepo.is_shallow(project.root)
        raise UsageError(
            f"{name}@{rev}: {rev!r} is no label, version or git revision of {name!r}"
            + (" (this clone is shallow)" if shallow else ""),
            hint=gitrepo.history_hint()
            if shallow
            else (f"labels of {name}: {', '.join(held)}; " if held else f"{name} has no labels; ")
            + f"versions: promptctl log {name}",
        ) from None
    if prompt is None:
        raise UsageError(
            f"prompt {name!r} does not exist at {rev!r}",
            hint=f"check `promptctl log {name}` for the revisions that have it",
        )
    return prompt


def load_labelled(
    project: Project, name: str, label: str, version: str, commit: str | None
) -> Prompt:
    """Exactly the labelled version, read at the commit labels.yaml records (the working tree
    may have moved on); if that commit is gone (rebased, shallow clone), searched in history."""
    from promptctl.history import gitrepo  # git only when a ref needs it

    gitrepo.open_repo(project.root, why=f"{name}@{label}")
    prompt = None
    if commit:
        try:
            prompt = load_at(project, name, commit)
        except UsageError:  # commit unknown here: fall back to the version's history
            prompt = None
    at_commit = prompt
    if prompt is None or prompt.version != version:
        prompt = find_version(project, name, version)
    if prompt is None and at_commit is not None and commit:
        prompt = _with_pins_of_then(project, at_commit, version, commit)
    if prompt is None:
        shallow = gitrepo.is_shallow(project.root)
        raise UsageError(
            f"label {label!r} of {name!r} points at version {version}"
            + (f" (commit {commit[:12]})" if commit else "")
            + (", which this shallow clone does not have" if shallow else ", found in no commit"),
            hint=gitrepo.history_hint() if shallow else "promote a version that is committed",
        )
    return prompt


def _with_pins_of_then(
    project: Project, prompt: Prompt, version: str, commit: str
) -> Prompt | None:
    """The labelled version of a prompt whose `uses:` pin other labels that have moved since:
    it is served with the upstreams those labels served when it was labelled (the chain that
    passed its gate), found by replaying labels.yaml's history, newest first. None: no state
    of labels.yaml reproduces `version`."""
    from promptctl.history import gitrepo
    from promptctl.labels import store as labels

    pins = []
    for use in prompt.uses:
        upstream, pinned = split_ref(use.ref)
        if pinned is not None and _label_target(project, upstream, pinned) is not None:
            pins.append((upstream, pinned))
    if not pins:
        return None
    path = project.labels_file
    tried: set[tuple[tuple[str, str], ...]] = set()
    for c in gitrepo.file_history(project.root, path, max_count=200):
        data = gitrepo.read_file(project.root, c.sha, path)
        try:
            then = labels.loads(yamlio.decode(data or b"", path.name), path.name)
        except UsageError:
            continue
        entries = [then.get(up, {}).get(lbl) for up, lbl in pins]
        if any(e is None for e in entries):
            continue
        key = tuple((e.version, e.commit or "") for e in entries if e is not None)
        if key in tried:
            continue
        tried.add(key)
        with contextlib.ExitStack() as stack:
            try:
                for (up, lbl), e in zip(pins, entries, strict=True):
                    assert e is not None
                    served = load_labelled(project, up, lbl, e.version, e.commit)
                    stack.enter_context(serving(up, lbl, served))
                again = load_at(project, prompt.name, commit)
            except UsageError:
                continue
        if again is not None and again.version == version:
            return again
    return None


def _label_target(project: Project, name: str, label: str) -> tuple[str, str | None] | None:
    from promptctl.labels import store as labels

    entry = labels.read(project).get(name, {}).get(label)
    if entry is None:
        return None
    return entry.version, entry.commit
