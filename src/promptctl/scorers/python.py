"""python: a function of the project's own `scorers/*.py`, run in a child process with a timeout.

`value: "tone:grade"` names `grade` in `scorers/tone.py` at the project root. The function is
called as `grade(output: str, context: dict)` and returns a bool, a number in [0, 1], or a dict
`{"pass": bool, "score": float, "reason": str}` (docs/suites.md, "Scorers in Python"). Each call
runs in `python -I` (no current directory, PYTHONPATH or user site on the path) from the source
text promptctl read: under `--trusted-config-ref` that text is the module as committed at the
trusted revision, so a pull request cannot change the function that grades it (docs/ci.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import UsageError
from promptctl.model import Case, Reply, Score, ScorerSpec
from promptctl.scorers.base import ScorerContext, short

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_THRESHOLD = 0.5  # a float result passes at or above this
SCORERS_DIR = "scorers"
MAX_SOURCE_BYTES = 1_000_000
_TARGET = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)$")

# The child's whole program: read one JSON request, exec the module's source, call the function,
# write one JSON answer. Exceptions become an answer too, with the line in the user's file.
WORKER = r"""
import json, sys, traceback
req = json.loads(sys.stdin.read())
try:
    namespace = {"__name__": "promptctl_scorer", "__file__": req["filename"]}
    exec(compile(req["source"], req["filename"], "exec"), namespace)
    fn = namespace.get(req["function"])
    if not callable(fn):
        raise LookupError(f"{req['filename']} defines no function {req['function']!r}")
    result = fn(req["output"], req["context"])
    answer = {"result": result}
    try:
        text = json.dumps(answer)
    except (TypeError, ValueError):
        text = json.dumps({"bad": type(result).__name__})
except BaseException as e:
    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == req["filename"]]
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    text = json.dumps({"error": f"{type(e).__name__}: {e}{where}"})
sys.stdout.write(text)
"""


def module_path(module: str) -> str:
    """`tone` -> `scorers/tone.py`; `checks.tone` -> `scorers/checks/tone.py` (posix, relative)."""
    return f"{SCORERS_DIR}/{module.replace('.', '/')}.py"


def read_source(project: Any, rel: str) -> bytes | None:
    """The module's bytes: from the trusted revision under --trusted-config-ref, else the working
    tree (inside the project, a regular file)."""
    from promptctl.project import config

    trusted_bytes = getattr(config, "trusted_bytes", None)
    if trusted_bytes is not None:  # the trust boundary's one reader of verdict-deciding files
        return trusted_bytes(project, rel)
    root = Path(project.root)
    if getattr(project, "trusted_ref", None) is not None:
        from promptctl.history import gitrepo

        return gitrepo.read_file(root, project.trusted_ref, root / rel)
    path = (root / rel).resolve()
    if root.resolve() not in path.parents or not path.is_file():
        return None
    return path.read_bytes()[:MAX_SOURCE_BYTES]


@dataclass(frozen=True, slots=True)
class Python:
    spec: ScorerSpec
    filename: str
    source: str
    function: str
    timeout_s: float
    threshold: float

    @classmethod
    def check(cls, spec: ScorerSpec) -> Iterator[tuple[str, str, str]]:
        if not isinstance(spec.value, str) or not _TARGET.match(spec.value):
            yield "PC004", 'python needs `value: "module:function"` (in scorers/)', "value"
        t = spec.options.get("timeout_s", DEFAULT_TIMEOUT_S)
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 600:
            yield (
                "PC004",
                "python `timeout_s` must be a number of seconds, 0 < t <= 600",
                "timeout_s",
            )
        th = spec.options.get("threshold", DEFAULT_THRESHOLD)
        if isinstance(th, bool) or not isinstance(th, int | float) or not 0 <= th <= 1:
            yield "PC004", "python `threshold` must be a number in [0, 1]", "threshold"

    @classmethod
    def from_spec(cls, spec: ScorerSpec, ctx: ScorerContext) -> Any:
        match = _TARGET.match(str(spec.value))
        project = ctx.project
        if match is None or project is None:
            raise UsageError(
                f'scorer {spec.id!r}: python needs `value: "module:function"` and a project',
                where=spec.source,
            )
        module, function = match.groups()
        rel = module_path(module)
        data = read_source(project, rel)
        if data is None:
            where = f" at {project.trusted_ref}" if getattr(project, "trusted_ref", None) else ""
            raise UsageError(
                f"scorer {spec.id!r}: {rel} not found{where}",
                where=spec.source,
                hint=f"write {rel} with `def {function}(output, context)` (docs/suites.md)",
            )
        try:
            source = data.decode("utf-8")
        except UnicodeDecodeError:
            raise UsageError(f"scorer {spec.id!r}: {rel} is not UTF-8", where=spec.source) from None
        return cls(
            spec=spec,
            filename=rel,
            source=source,
            function=function,
            timeout_s=float(spec.options.get("timeout_s", DEFAULT_TIMEOUT_S)),
            threshold=float(spec.options.get("threshold", DEFAULT_THRESHOLD)),
        )

    async def score(self, reply: Reply, case: Case, *, repeat: int = 0) -> Score:
        import asyncio

        request = {
            "source": self.source,
            "filename": self.filename,
            "function": self.function,
            "output": reply.text,
            "context": {
                "vars": dict(case.vars),
                "expected": case.expected,
                "case_id": case.id,
                "tags": list(case.tags),
                "repeat": repeat,
            },
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-c",
            WORKER,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            out, _ = await asyncio.wait_for(
                proc.communicate(json.dumps(request).encode("utf-8")), self.timeout_s
            )
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ValueError(
                f"{self.spec.value} took longer than {self.timeout_s:g} s (timeout_s)"
            ) from None
        try:
            answer = json.loads(out or b"")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise ValueError(f"{self.spec.value} ended without an answer (exit {proc.returncode})")
        if "error" in answer:
            raise ValueError(str(answer["error"]))
        if "bad" in answer:
            raise ValueError(f"{self.spec.value} returned a {answer['bad']}: {_EXPECTED}")
        return self.to_score(answer.get("result"))

    def to_score(self, result: Any) -> Score:
        name = self.spec.value
        if isinstance(result, bool):
            return Score(value=float(result), passed=result, reason=f"{name}: {result}")
        if isinstance(result, int | float) and 0 <= result <= 1:
            ok = result >= self.threshold
            sign = ">=" if ok else "<"
            return Score(
                value=float(result), passed=ok, reason=f"{result:g} {sign} {self.threshold:g}"
            )
        if isinstance(result, Mapping) and isinstance(result.get("pass"), bool):
            value = result.get("score", float(result["pass"]))
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise ValueError(f"{name} returned score {value!r}: not a number in [0, 1]")
            reason = result.get("reason")
            return Score(
                value=float(value),
                passed=result["pass"],
                reason=short(str(reason), 300)
                if reason is not None
                else f"{name}: {result['pass']}",
            )
        raise ValueError(f"{name} returned {short(repr(result), 60)}: {_EXPECTED}")


_EXPECTED = 'expected a bool, a number in [0, 1] or {"pass": bool, "score": float, "reason": str}'
