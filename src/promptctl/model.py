"""Frozen dataclasses shared by every layer: messages, suites, cases, requests, replies, scores.

`Prompt` lives in prompts/prompt.py: it renders itself, and rendering sits above this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from promptctl.errors import Location


def canonical_json(value: Any) -> str:
    """The one serialisation every hash in promptctl is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(value: Any, length: int = 12) -> str:
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    role: str
    content: str
    # Where template line 1 sits in the YAML file, so a Jinja error maps back to the file.
    source: Location | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputSpec:
    format: str = "text"  # text | json
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Use:
    """One `uses:` entry: an upstream prompt whose reply or text this prompt's templates read as
    `{{ uses.<alias>.output }}` / `{{ uses.<alias>.text }}` (issue 14 §3)."""

    alias: str
    ref: str  # as written: NAME, NAME@label, NAME@version or NAME@<git rev>
    version: str = ""  # the upstream's effective version, set by the loader
    source: Location | None = None


class Verdict(str, Enum):
    PASSED = "passed"
    REGRESSED = "regressed"
    INCONCLUSIVE = "inconclusive"
    FAILED = "failed"  # a floor, critical case or budget failed (no baseline comparison needed)
    NEW = "new"  # nothing to compare with


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    id: str
    vars: Mapping[str, Any]
    expected: Any = None
    tags: tuple[str, ...] = ()
    critical: bool = False
    source: Location | None = None
    asserts: tuple[ScorerSpec, ...] = ()  # the row's own `assert:` scorers (this case only)

    @property
    def hash(self) -> str:
        """Content hash: a case whose vars or expected changed is not comparable to its past.

        A row's own scorers are part of the case: changing one makes the case incomparable
        with its baseline (the suite records their ids with PER_CASE_HASH, not a config hash).
        """
        if self.asserts:
            return content_hash(
                {
                    "vars": self.vars,
                    "expected": self.expected,
                    "assert": [[s.id, s.hash] for s in self.asserts],
                }
            )
        return content_hash({"vars": self.vars, "expected": self.expected})


# The scorer hash recorded for an id that only dataset rows' `assert:` use: their configs live in
# each case's hash, so the suite-level comparison treats the id as unchanged.
PER_CASE_HASH = "per-case"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerSpec:
    id: str
    type: str  # registry name, `not-` stripped, aliases resolved
    negate: bool = False
    value: Any = None
    options: Mapping[str, Any] = field(default_factory=dict)  # model, rubric, scale, pass, ...
    source: Location | None = None

    @property
    def hash(self) -> str:
        options = dict(self.options)
        template = options.get("template")
        if isinstance(template, str):
            # The suite loader stores the judge template's absolute path, which differs between
            # checkouts; its content is what the gate must compare (issue 6: scorer hashes).
            options["template"] = _file_digest(template)
        return content_hash(
            {"type": self.type, "negate": self.negate, "value": self.value, "options": options}
        )


def _file_digest(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            return "sha256:" + hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return "missing:" + path.replace("\\", "/").rsplit("/", 1)[-1]


FAMILIES = ("eval", "suite")  # gate.family (issue 17)
METRICS = ("pass_rate", "mean_score")  # gate.metric per scorer (issue 17)
_GATE_SCALARS = ("min_pass_rate", "max_drop", "alpha", "max_cost_usd", "on_inconclusive")
# The keys of a gate as suites, run.json and baselines write it (one list for every reader).
GATE_KEYS = (*_GATE_SCALARS, "advisory", "family", "metric")


@dataclass(frozen=True, slots=True, kw_only=True)
class Gate:
    min_pass_rate: float | None = None
    max_drop: float = 0.05
    alpha: float = 0.05
    max_cost_usd: float | None = None
    on_inconclusive: str = "warn"  # warn | fail
    advisory: tuple[str, ...] = ()  # scorer ids whose regression warns instead of failing
    # Which tests share the false-alarm budget alpha (issue 17): "eval" = every compared scorer
    # of every suite one `eval` gates; "suite" = this suite's scorers among themselves only.
    family: str = "eval"
    # scorer id -> "mean_score" for the scorers gated on mean scores; the rest use pass_rate.
    metrics: tuple[tuple[str, str], ...] = ()

    def metric_of(self, scorer_id: str) -> str:
        return dict(self.metrics).get(scorer_id, "pass_rate")

    @property
    def hash(self) -> str:
        # advisory, family and metric only when set: gates written before them keep their hash.
        return content_hash(self.fields())

    def fields(self) -> dict[str, Any]:
        """The gate as run.json and baselines write it; advisory, family and metric only when
        set, so files written before them keep their bytes."""
        out: dict[str, Any] = {
            "min_pass_rate": self.min_pass_rate,
            "max_drop": self.max_drop,
            "alpha": self.alpha,
            "max_cost_usd": self.max_cost_usd,
            "on_inconclusive": self.on_inconclusive,
        }
        if self.advisory:
            out["advisory"] = sorted(self.advisory)
        if self.family != "eval":
            out["family"] = self.family
        if self.metrics:
            out["metric"] = dict(self.metrics)
        return out

    @classmethod
    def from_fields(cls, raw: Mapping[str, Any]) -> Gate:
        """The one builder of a Gate from a mapping: the inverse of fields(). Values must be
        valid already: checked by the file's reader (suites.py, baseline.py) or written by
        promptctl itself (run.json); a missing or null key takes the default."""
        values: dict[str, Any] = {k: raw[k] for k in _GATE_SCALARS if raw.get(k) is not None}
        if isinstance(raw.get("advisory"), list):
            values["advisory"] = tuple(str(a) for a in raw["advisory"])
        metric = raw.get("metric")
        if isinstance(metric, Mapping):
            values["metrics"] = tuple(sorted((str(k), str(v)) for k, v in metric.items()))
        return cls(**values, family=str(raw.get("family") or "eval"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    name: str  # the file's stem
    path: str  # absolute path of the suite file
    prompt_ref: str  # name, name@rev or name@label
    dataset: str | None  # absolute path, or None when cases are inline
    cases: tuple[Case, ...] = ()  # inline cases
    repeat: int = 1
    scorers: tuple[ScorerSpec, ...] = ()
    gate: Gate = field(default_factory=Gate)
    judge_template: str | None = None  # absolute path of an overriding judge template
    record_outputs: bool = True  # keep model outputs in the baseline (replay); off for secrets
    canary: str | None = None  # a prompt variable given a fresh random token on every run
    source: Location


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """One model call, fully resolved: what the cache and replay are keyed on."""

    provider: str  # provider name as written in the model id ("openai", "local", ...)
    model: str  # model id without the provider part
    messages: tuple[Mapping[str, str], ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    response_format: Mapping[str, Any] | None = (
        None  # {"type": "json"} | {"type": "json_schema", ...}
    )
    repeat: int = 0
    # The key once computed: the runner, the cache and replay each ask for it, and hashing the
    # canonical JSON again cost ~4 us a call. Not a field anyone sets (replace() recomputes it).
    _key: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> str:
        key = self._key
        if key is None:
            key = content_hash(
                {
                    "provider": self.provider,
                    "model": self.model,
                    "messages": list(self.messages),
                    "params": self.params,
                    "response_format": self.response_format,
                    "repeat": self.repeat,
                },
                length=64,
            )
            object.__setattr__(self, "_key", key)  # frozen: set once, by this property only
        return key


EMBEDDING_FORMAT: Mapping[str, Any] = {"type": "embedding"}


def is_embedding(request: Request) -> bool:
    """An embeddings call (the `similar` scorer): one input text, a vector as the reply text."""
    return (request.response_format or {}).get("type") == "embedding"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    text: str
    model: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float = 0.0
    cost_usd: float | None = None
    retries: int = 0
    cached: bool = False  # served from the local cache or a baseline's recorded output
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Score:
    value: float  # in [0, 1]
    passed: bool
    reason: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ScorerOutcome:
    """One case under one scorer, over its repeats: the unit the gate compares (paired)."""

    case_id: str
    case_hash: str
    scorer_id: str
    scorer_hash: str
    mean_score: float  # mean of the repeats' scores, in [0, 1]
    pass_fraction: float  # passed repeats / repeats (an error counts as a fail)
    repeats: int
    errors: int = 0
    critical: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedOutput:
    """A model output as recorded in a run or baseline, replayable by request key."""

    case_id: str
    repeat: int
    request_key: str
    output: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    judge: bool = False  # a judge's reply, not the candidate's (reports show the candidate's)


# A model id as prompts, --model and defaults.judge_model write it: "<provider>/<model id>".
MODEL_ID_PATTERN = r"^[A-Za-z0-9_.-]+/\S+$"


# Recorded outputs are a Collection, not a tuple: a baseline's or a run's are read from their
# file when iterated, so 100k of them never sit in memory at once (issue 18).
RecordedOutputs = Collection[RecordedOutput]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunData:
    """What a finished (or interrupted) run of one suite holds, as read back from disk."""

    run_id: str
    path: str  # the run directory
    suite: str
    prompt: str
    prompt_version: str
    model: str
    params: Mapping[str, Any]
    gate: Gate
    scorer_hashes: Mapping[str, str]  # scorer id -> ScorerSpec.hash
    outcomes: tuple[ScorerOutcome, ...]
    outputs: RecordedOutputs = ()
    cost_usd: float | None = None
    complete: bool = True
    shard: str | None = None  # "I/N" when the run is one shard
    uses: Mapping[str, str] = field(default_factory=dict)  # chain: alias -> "name@version"
