"""Jinja2 in a sandbox: partials only from prompts/partials/, bounded output, errors mapped to
the line inside the YAML file."""

from __future__ import annotations

import contextvars
import functools
import os
import re
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from jinja2 import meta, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptctl.errors import Location, UsageError
from promptctl.model import Message
from promptctl.project.yamlio import CliText
from promptctl.prompts import validation

if TYPE_CHECKING:
    # annotations only: prompt.py imports this module to render, so no import back at run time
    from promptctl.prompts.prompt import Prompt

MAX_OUTPUT_CHARS = 2_000_000  # a rendered prompt past this is a bug or an attack
# Size limits do not stop `{% for a in range(10**5) %}{% for b in range(10**5) %}`: an empty
# body allocates nothing and spins for hours. A prompt renders in milliseconds; 2 s is an attack.
RENDER_TIMEOUT_S = 2.0
_GUARD_EVERY = 256  # loop iterations between clock reads (monotonic() costs ~50 ns)

# The deadline of the render running in this thread/task (None: no render in progress, e.g.
# `template_variables` parsing); a contextvar because the environment is shared and cached.
_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "promptctl_render_deadline", default=None
)


class RenderTimeout(TemplateError):
    """A template ran past RENDER_TIMEOUT_S (nested loops, recursion)."""


def _check_deadline() -> None:
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() > deadline:
        raise RenderTimeout(f"template took too long (over {RENDER_TIMEOUT_S:g} s)")


def _guarded(iterable: Iterable[Any]) -> Iterator[Any]:
    """Every `{% for %}` iterates through this, so an empty loop body still meets the clock."""
    for i, item in enumerate(iterable):
        if i % _GUARD_EVERY == 0:
            _check_deadline()
        yield item


def _too_big(what: str) -> SecurityError:
    return SecurityError(f"{what} exceeds the rendered-size limit ({MAX_OUTPUT_CHARS:,})")


def _checked_size(value: Any) -> Any:
    """A value a call, filter or `~` produced, refused when past the size limit: one oversize
    allocation can happen, but it can never be doubled again (`ns.s ~ ns.s` in a loop)."""
    if isinstance(value, str | bytes | list | tuple) and len(value) > MAX_OUTPUT_CHARS:
        raise _too_big("a value")
    return value


def _checked_concat(parts: Iterable[str]) -> str:
    """environment.concat: `{% set x %}…{% endset %}`, macro and call-block bodies."""
    items = list(parts)
    if sum(len(p) for p in items) > MAX_OUTPUT_CHARS:
        raise _too_big("a block")
    return "".join(items)


# A width or precision of a million or more in a format spec: `'{:>999999999}'.format(x)`.
_HUGE_SPEC = re.compile(r"\d{7,}")
# The width comes from an argument: `'%*s' % (10**9, x)`, `'{:{}}'.format(x, 10**9)`.
_ARG_SPEC = re.compile(r"\*|\{[^{}]*\{")
_WIDTH_METHODS = frozenset(["ljust", "rjust", "center", "zfill"])


def _ints(values: Iterable[Any]) -> Iterator[int]:
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool):
            yield v
        elif isinstance(v, tuple | list):
            yield from (i for i in v if isinstance(i, int) and not isinstance(i, bool))
        elif isinstance(v, Mapping):
            yield from (i for i in v.values() if isinstance(i, int) and not isinstance(i, bool))


def _check_format(fmt: Any, args: Iterable[Any]) -> None:
    if not isinstance(fmt, str):
        return
    if _HUGE_SPEC.search(fmt) or (
        _ARG_SPEC.search(fmt) and any(abs(i) > MAX_OUTPUT_CHARS for i in _ints(args))
    ):
        raise _too_big("a format width")


def _check_replace(text: Any, old: Any, new: Any, count: Any = -1) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    if len(text) + hits * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
        raise _too_big("a replace")


def _check_join(sep: Any, items: list[Any]) -> None:
    if isinstance(sep, str) and len(sep) * max(len(items) - 1, 0) > MAX_OUTPUT_CHARS:
        raise _too_big("a join")


def _check_method(obj: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> tuple[Any, ...]:
    """Pre-checks for the str methods that allocate more than they are given."""
    owner = getattr(obj, "__self__", None)
    if not isinstance(owner, str):
        return args
    name = getattr(obj, "__name__", "")
    if name in _WIDTH_METHODS or name == "expandtabs":
        width = args[0] if args else kwargs.get("width", kwargs.get("tabsize", 0))
        if isinstance(width, int) and width * max(1, owner.count("\t")) > MAX_OUTPUT_CHARS:
            raise _too_big(f"{name}()")
    elif name == "replace":
        _check_replace(owner, *args[:3])
    elif name == "join" and args:
        items = list(args[0])  # materialised once, here, to size it; bounded by the loop guard
        _check_join(owner, items)
        return (items, *args[1:])
    return args


def _guard_filter(name: str, func: Any) -> Any:
    """A built-in filter with the checks its arguments need and its result size-checked."""
    skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context, pass_eval_context, ...)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_deadline()
        value, rest = (args[skip], args[skip + 1 :]) if len(args) > skip else (None, ())
        if name in ("center", "indent"):
            width = rest[0] if rest else kwargs.get("width", 4 if name == "indent" else 80)
            lines = value.count("\n") + 1 if isinstance(value, str) else 1
            size = len(width) if isinstance(width, str) else width
            if isinstance(size, int) and size * lines > MAX_OUTPUT_CHARS:
                raise _too_big(f"|{name}")
        elif name == "tojson":
            indent = rest[0] if rest else kwargs.get("indent")
            if isinstance(indent, int) and indent > 1000:
                raise _too_big("|tojson indent")
        elif name == "replace":
            _check_replace(value, *rest[:3])
        elif name == "format":
            _check_format(value, (*rest, *kwargs.values()))
        elif name == "join" and value is not None:
            value = list(value)
            _check_join(rest[0] if rest else kwargs.get("d", ""), value)
            args = (*args[:skip], value, *rest)
        return _checked_size(func(*args, **kwargs))

    return guarded


class _GuardedCodeGenerator(CodeGenerator):
    """Compiles `{% for x in EXPR %}` as `for x in environment.call(environment.loop_guard,
    EXPR)`: Jinja has no per-iteration hook, and a plain Python loop never calls back."""

    def visit_Template(self, node: nodes.Template, frame: Frame | None = None) -> None:
        for loop in node.find_all(nodes.For):
            loop.iter = nodes.Call(
                nodes.EnvironmentAttribute("loop_guard"),
                [loop.iter],
                [],
                None,
                None,
                lineno=loop.iter.lineno,
            )
        super().visit_Template(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # `a ~ b` builds a string outside any call: size-check it as a call result
        self.write("environment.checked_size(")
        super().visit_Concat(node, frame)
        self.write(")")


def check_partial_name(template: str) -> None:
    """Refuse an include name that could leave prompts/partials/ (absolute, `..`, `~`, `\\`)."""
    parts = Path(template).parts
    if (
        not template
        or os.path.isabs(template)
        or "\\" in template
        or ".." in parts
        or template.startswith("~")
    ):
        raise SecurityError(
            f"include {template!r}: only paths inside prompts/partials/ can be included"
        )


def read_partial_file(partials_dir: Path, template: str) -> str | None:
    """The text of partial `template` in the working tree's partials directory; None if absent.
    A symlink out of the directory is refused (SecurityError)."""
    check_partial_name(template)
    root = partials_dir.resolve()
    path = (root / template).resolve()
    if root not in path.parents:
        raise SecurityError(f"include {template!r} leaves prompts/partials/")
    if not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


class _PartialsLoader(jinja2.BaseLoader):
    """{% include %} reads only files inside prompts/partials/ (no absolute, no .., no escape
    through symlinks)."""

    def __init__(self, partials_dir: str | None) -> None:
        self.partials_dir = Path(partials_dir).resolve() if partials_dir else None

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
        if self.partials_dir is None:
            raise jinja2.TemplateNotFound(template)
        source = read_partial_file(self.partials_dir, template)
        if source is None:
            raise jinja2.TemplateNotFound(template)
        return source, template, lambda: False


class _FrozenPartialsLoader(jinja2.BaseLoader):
    """Partials from a prompt's own snapshot (`Prompt.partials`): the bytes of the revision the
    prompt was loaded from, never the working tree's (issue 14 §2)."""

    def __init__(self, partials: tuple[tuple[str, str], ...], partials_dir: str | None) -> None:
        self.partials = dict(partials)
        self.partials_dir = Path(partials_dir) if partials_dir else None

    def get_source(self, environment: Any, template: str) -> tuple[str, str, Any]:
        check_partial_name(template)
        if template not in self.partials:
            if self.partials_dir is not None:  # for its reason only (a symlink out is refused);
                read_partial_file(self.partials_dir, template)  # its text is never served
            raise jinja2.TemplateNotFound(template)
        return self.partials[template], template, lambda: True


class _Env(ImmutableSandboxedEnvironment):
    # '*' on a str or list can allocate gigabytes in one expression: check before doing it.
    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = _GuardedCodeGenerator
    concat = staticmethod(_checked_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # lorem ipsum has no place in a prompt, and lipsum(10**9) never returns
        self.globals.pop("lipsum", None)
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}

    def checked_size(self, value: Any) -> Any:
        return _checked_size(value)

    def wrap_str_format(self, value: Any) -> Any:
        # Jinja swaps `str.format`/`format_map` for a sandboxed formatter at attribute access;
        # the width in '{:>999999999}' or '{:{}}' (from an argument) is still honoured.
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        @functools.wraps(wrapped)
        def checked(*args: Any, **kwargs: Any) -> Any:
            _check_format(fmt, (*args, *kwargs.values()))
            return _checked_size(wrapped(*args, **kwargs))

        return checked

    def loop_guard(self, iterable: Iterable[Any]) -> Iterator[Any]:
        return _guarded(iterable)

    # Calls and attribute lookups are the other places a template spends time (macros calling
    # themselves, filters in a loop): each one meets the clock.
    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        # positional-only: a template may pass any keyword, `self=` and `context=` included
        _check_deadline()
        args = _check_method(obj, args, kwargs)
        return _checked_size(super().call(context, obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _check_deadline()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(n, int)
                    and len(seq) * n > MAX_OUTPUT_CHARS
                ):
                    raise SecurityError("a repetition exceeds the rendered-size limit")
        if operator == "**" and isinstance(right, int | float) and abs(right) > 100:
            raise SecurityError("exponent too large")
        if operator == "%":
            _check_format(left, (right,))
        return _checked_size(super().call_binop(context, operator, left, right))


Frozen = tuple[tuple[str, str], ...]  # partial name -> text, sorted: hashable for the caches


@lru_cache(maxsize=16)
def environment(partials_dir: str | None, frozen: Frozen | None = None) -> _Env:
    return _Env(
        loader=_FrozenPartialsLoader(frozen, partials_dir)
        if frozen is not None
        else _PartialsLoader(partials_dir),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def _template_line(msg_source: Location | None, lineno: int | None) -> Location | None:
    if msg_source is None:
        return None
    if not lineno or msg_source.line is None:
        return msg_source
    line = msg_source.line + lineno - 1
    return Location(msg_source.path, line, msg_source.col if lineno == 1 else 1)


def compile_message(
    prompt_source: Location | None,
    text: str,
    partials_dir: str | None,
    name: str = "<template>",
    frozen: Frozen | None = None,
) -> Any:
    try:
        return _compile(text, partials_dir, name, frozen)
    except TemplateSyntaxError as e:
        raise UsageError(
            f"template syntax error: {e.message}",
            where=_template_line(prompt_source, e.lineno),
            hint="fix the Jinja2 syntax ({{ var }}, {% if %}...{% endif %})",
        ) from None


@lru_cache(maxsize=1024)
def _compile(text: str, partials_dir: str | None, name: str, frozen: Frozen | None) -> Any:
    env = environment(partials_dir, frozen)
    return env.from_string(text)


def render_text(
    text: str,
    context: Mapping[str, Any],
    *,
    source: Location | None = None,
    partials_dir: str | None = None,
    partials: Mapping[str, str] | None = None,
) -> str:
    """Render one template string in the sandbox; problems are UsageErrors at `source`.

    `partials` (a prompt's snapshot) takes the place of reading `partials_dir`. Bounded in size
    (MAX_OUTPUT_CHARS) and time (RENDER_TIMEOUT_S).
    """
    frozen = tuple(sorted(partials.items())) if partials is not None else None
    template = compile_message(source, text, partials_dir, frozen=frozen)
    token = _deadline.set(time.monotonic() + RENDER_TIMEOUT_S)
    try:
        out: list[str] = []
        size = 0
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > MAX_OUTPUT_CHARS:
                raise SecurityError(f"rendered text exceeds {MAX_OUTPUT_CHARS:,} characters")
            out.append(chunk)
        return "".join(out)
    except RenderTimeout as e:
        raise UsageError(
            str(e),
            where=_template_line(source, _error_lineno(e)),
            hint="templates format variables; remove the nested loops or recursion",
        ) from None
    except RecursionError as e:
        raise UsageError(
            "template recursion too deep",
            where=_template_line(source, _error_lineno(e)),
            hint="a macro or partial calls itself without end",
        ) from None
    except UndefinedError as e:
        raise UsageError(
            f"undefined variable: {e.message}",
            where=_template_line(source, _error_lineno(e)),
            hint="pass it with --var NAME=VALUE, or declare a default under `input:`",
        ) from None
    except SecurityError as e:
        raise UsageError(
            f"template refused by the sandbox: {e}",
            where=_template_line(source, _error_lineno(e)),
            hint="templates may only format variables; they cannot reach Python internals",
        ) from None
    except TemplateSyntaxError as e:
        raise UsageError(
            f"template syntax error: {e.message}",
            where=Location(e.filename or "<include>", e.lineno),
        ) from None
    except jinja2.TemplateNotFound as e:
        raise UsageError(
            f"partial {e.name!r} not found",
            where=_template_line(source, _error_lineno(e)),
            hint="partials live in prompts/partials/",
        ) from None
    except TemplateError as e:
        raise UsageError(
            f"template error: {e}", where=_template_line(source, _error_lineno(e))
        ) from None
    except (
        TypeError,
        ValueError,
        ArithmeticError,
        LookupError,
        AttributeError,
        MemoryError,
    ) as e:
        raise UsageError(
            f"template error: {type(e).__name__}: {e}",
            where=_template_line(source, _error_lineno(e)),
        ) from None
    finally:
        _deadline.reset(token)


def _error_lineno(exc: BaseException) -> int | None:
    """Jinja rewrites tracebacks so template frames carry template line numbers."""
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == "<template>":
            line = lineno
    return line


def apply_defaults(prompt: Prompt, variables: Mapping[str, Any]) -> dict[str, Any]:
    values = {k: v["default"] for k, v in prompt.input.items() if "default" in v}
    for key, value in variables.items():
        if isinstance(value, CliText):
            kind = prompt.input.get(key, {}).get("type")
            text = kind == "string" or (isinstance(kind, list) and "string" in kind)
            value = str(value) if text else value.parsed
        values[key] = value
    return values


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
    "object": dict,
    "array": list,
    "null": type(None),
}
_PLAIN_SCHEMA_KEYS = frozenset(("type", "default", "description", "title"))


def plainly_valid(prompt: Prompt, values: Mapping[str, Any]) -> bool:
    """True when every variable is present and its schema is just a `type` it has.

    Most inputs are `{type: string}`: checking those here spares loading jsonschema (~0.15 s
    at start-up) and a validator call per case. Anything else (or a doubt) returns False and
    the full check runs, with its error messages.
    """
    if any(k not in values for k in prompt.required_vars):
        return False
    for key, schema in prompt.input.items():
        if key not in values or not schema:
            continue
        if not _PLAIN_SCHEMA_KEYS.issuperset(schema):
            return False
        kind = schema.get("type")
        if kind is None:
            continue
        wanted = _JSON_TYPES.get(kind) if isinstance(kind, str) else None
        value = values[key]
        if (
            wanted is None
            or not isinstance(value, wanted)
            or (isinstance(value, bool) and kind in ("integer", "number"))
        ):
            return False
    return True


def check_case_variables(prompt: Prompt, values: Mapping[str, Any]) -> None:
    """check_variables, with the common plain inputs checked without loading jsonschema: what an
    eval's plan and lint ask of every case."""
    if not plainly_valid(prompt, values):
        check_variables(prompt, values)


def check_variables(prompt: Prompt, values: Mapping[str, Any]) -> None:
    missing = [k for k in prompt.required_vars if k not in values]
    if missing:
        from promptctl.project.checks import did_you_mean

        typo = next(
            (
                (given, hint)
                for given in values
                if given not in prompt.input
                for hint in [did_you_mean(given, missing)]
                if hint
            ),
            None,
        )
        raise UsageError(
            f"missing variable{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"for prompt {prompt.name!r}"
            + (f" ({typo[0]!r} was given: {typo[1]})" if typo else ""),
            where=prompt.input_source or prompt.source,
            hint=" ".join(f"--var {k}=..." for k in missing),
        )
    for key, schema in prompt.input.items():
        if key in values and schema:
            problems = validation.validate(
                values[key], {k: v for k, v in schema.items() if k != "default"}
            )
            if problems:
                raise UsageError(
                    f"variable {key!r} of prompt {prompt.name!r}: {problems[0]}",
                    where=prompt.input_source or prompt.source,
                    hint=f"see input.{key} in {prompt.source.path}",
                )


def uses_fields(prompt: Prompt) -> dict[str, set[str]]:
    """alias -> the fields (`output`, `text`) the prompt's templates and partials read of
    `uses.<alias>`; an alias read without a field maps to an empty set."""
    env = environment(None)
    found: dict[str, set[str]] = {}
    for text in [m.content for m in prompt.messages] + list(prompt.partials.values()):
        if "uses" not in text:
            continue
        try:
            ast = env.parse(text)
        except TemplateError:
            continue
        for node in ast.find_all(nodes.Getattr):
            inner = node.node
            if isinstance(inner, nodes.Name) and inner.name == "uses":
                found.setdefault(node.attr, set())
            elif (
                isinstance(inner, nodes.Getattr)
                and isinstance(inner.node, nodes.Name)
                and inner.node.name == "uses"
            ):
                found.setdefault(inner.attr, set()).add(node.attr)
    return found


def uses_context(
    prompt: Prompt, variables: Mapping[str, Any], replies: Mapping[str, str] | None
) -> dict[str, dict[str, str]]:
    """`uses` as templates see it: per alias the upstream's rendered `text` (its messages'
    contents, blank-line separated) and, when the chain was run, its reply as `output`."""
    wanted = uses_fields(prompt)
    out: dict[str, dict[str, str]] = {}
    for use in prompt.uses:
        upstream = prompt.upstreams[use.alias]
        entry: dict[str, str] = {}
        if "text" in wanted.get(use.alias, ()):
            # an upstream's own chain is not run to show its text: its replies read as ""
            stub = dict.fromkeys((u.alias for u in upstream.uses), "")
            entry["text"] = "\n\n".join(
                m["content"] for m in render_messages(upstream, variables, replies=stub)
            )
        if replies is not None and use.alias in replies:
            entry["output"] = replies[use.alias]
        elif "output" in wanted.get(use.alias, ()):
            raise UsageError(
                f"uses.{use.alias}.output is the reply of {upstream.name}@{upstream.version}, "
                "and rendering alone calls no model",
                where=use.source,
                hint="promptctl run and an eval of its suite run the chain; here, pass the reply: "
                f'--var \'uses={{"{use.alias}": {{"output": "..."}}}}\'',
            )
        out[use.alias] = entry
    return out


def given_replies(variables: Mapping[str, Any]) -> dict[str, str] | None:
    """Upstream replies passed by hand as `uses={alias: {output: ...}}` (render, run)."""
    raw = variables.get("uses")
    if isinstance(raw, str):  # --var uses='{"route": {"output": "billing"}}': JSON text
        import json

        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if not isinstance(raw, Mapping):
        return None
    return {
        str(alias): str(v["output"])
        for alias, v in raw.items()
        if isinstance(v, Mapping) and "output" in v
    }


def render_messages(
    prompt: Prompt,
    variables: Mapping[str, Any],
    *,
    replies: Mapping[str, str] | None = None,
    check: bool = True,
) -> list[dict[str, str]]:
    """Render the prompt's messages. `replies` (alias -> upstream reply) fill
    `uses.<alias>.output`: a chain run passes them; without, `uses=` among the variables may.

    `check=False` is for a caller that has just run check_variables (or an equivalent) on these
    same values: a second pass would load jsonschema for nothing (~30 ms at an eval's start).
    """
    if prompt.uses and replies is None:
        replies = given_replies(variables)
    own = {k: v for k, v in variables.items() if k != "uses"}
    values = apply_defaults(prompt, own)
    if check:
        check_variables(prompt, values)
    if prompt.uses:  # upstreams get the caller's variables, with their own defaults
        values["uses"] = uses_context(prompt, own, replies)
    return [
        {
            "role": m.role,
            "content": render_text(
                m.content,
                values,
                source=m.source,
                partials_dir=prompt.partials_dir,
                partials=prompt.partials,
            ),
        }
        for m in prompt.messages
    ]


def check_unknown(prompt: Prompt, variables: Mapping[str, Any]) -> None:
    """A variable the prompt does not declare is a typo or a stale caller, never ignored.

    Only for direct callers (render, run, `Prompt.render`): dataset rows may carry extra
    fields, which lint reports as PC211 warnings.
    """
    unknown = sorted(
        k for k in variables if k not in prompt.input and not (k == "uses" and prompt.uses)
    )
    if unknown:
        # a prompt without `input:` (lint PC102) still takes what its templates read
        used = set().union(*(template_variables(m, prompt.partials_dir) for m in prompt.messages))
        unknown = [k for k in unknown if k not in used]
    if not unknown:
        return
    from promptctl.project.checks import did_you_mean

    missing = [k for k in prompt.input if k not in variables]
    close = did_you_mean(unknown[0], missing or list(prompt.input))
    declared = ", ".join(prompt.input) or "none"
    raise UsageError(
        f"unknown variable{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
        f"for prompt {prompt.name!r}" + (f": {close}" if close else ""),
        where=prompt.input_source or prompt.source,
        hint=f"the prompt declares: {declared} (add a new one under input:)",
    )


def render_prompt(prompt: Prompt, variables: Mapping[str, Any]) -> list[dict[str, str]]:
    """Render for a direct caller: unknown variables are errors (see check_unknown)."""
    messages = render_messages(prompt, variables)  # a template's own errors come first
    check_unknown(prompt, variables)
    return messages


def template_variables(message: Message, partials_dir: str | None) -> set[str]:
    """Variables a template reads (parsing only; includes followed inside partials/)."""
    env = environment(partials_dir)
    ast = env.parse(message.content)
    found = set(meta.find_undeclared_variables(ast))
    seen: set[str] = set()
    for inc in ast.find_all(nodes.Include):
        if isinstance(inc.template, nodes.Const) and isinstance(inc.template.value, str):
            found |= _partial_variables(env, inc.template.value, seen)
    return found


def _partial_variables(env: Any, name: str, seen: set[str]) -> set[str]:
    if name in seen:
        return set()
    seen.add(name)
    try:
        source, _, _ = env.loader.get_source(env, name)
        ast = env.parse(source)
    except (TemplateError, OSError):
        return set()
    found = set(meta.find_undeclared_variables(ast))
    for inc in ast.find_all(nodes.Include):
        if isinstance(inc.template, nodes.Const) and isinstance(inc.template.value, str):
            found |= _partial_variables(env, inc.template.value, seen)
    return found


def included_partials(message: Message, partials_dir: str | None) -> set[str]:
    """Names of partials a template includes, transitively, in the working tree."""
    if partials_dir is None:
        return set()
    root = Path(partials_dir)

    def read(name: str) -> str | None:
        try:
            return read_partial_file(root, name)
        except (SecurityError, OSError, UnicodeDecodeError):
            return None

    return set(collect_partials([message.content], read, list_all=list))  # missing ones too


def _loaded_names(ast: Any) -> tuple[list[str], bool]:
    """Constant template names an AST includes/imports/extends; True when one is computed."""
    names: list[str] = []
    dynamic = False
    for node in ast.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = node.template
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            names.append(target.value)
        elif isinstance(target, nodes.List | nodes.Tuple) and all(
            isinstance(i, nodes.Const) and isinstance(i.value, str) for i in target.items
        ):  # `{% include ['a.j2', 'b.j2'] %}`: the first that exists
            names.extend(i.value for i in target.items)
        else:
            dynamic = True
    return names, dynamic


def collect_partials(
    texts: Iterable[str],
    read: Callable[[str], str | None],
    *,
    list_all: Callable[[], Iterable[str]],
) -> dict[str, str | None]:
    """Every partial the templates `texts` load (include, import, extends), transitively: name ->
    text, read through `read` (None: absent; rendering then says it is missing). A
    computed name (`{% include var %}`) cannot be followed: then every partial `list_all` names is
    taken, so whatever it picks is in the snapshot and the version. A template that does not parse
    contributes nothing here; rendering reports it at its line."""
    env = environment(None)
    found: dict[str, str | None] = {}
    pending = [t for t in texts if "{%" in t]
    seen: set[str] = set()
    everything = False
    while pending:
        text = pending.pop()
        try:
            names, dynamic = _loaded_names(env.parse(text))
        except TemplateError:
            continue
        if dynamic and not everything:
            everything = True
            names = [*names, *list_all()]
        for name in names:
            if name in seen:
                continue
            seen.add(name)
            try:
                check_partial_name(name)
            except SecurityError:
                continue  # rendering refuses it with the sandbox's message
            source = found[name] = read(name)
            if source is not None:
                pending.append(source)
    return dict(sorted(found.items()))
