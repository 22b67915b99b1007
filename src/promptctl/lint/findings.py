"""Findings and the catalogue of lint codes (never renumbered or reused; see docs/lint.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from promptctl.errors import Location


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    summary: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    severity: Severity
    message: str
    where: Location | None = None
    hint: str | None = None

    @property
    def rule(self) -> Rule:
        return RULES[self.code]


_E, _W = Severity.ERROR, Severity.WARNING

RULES: dict[str, Rule] = {
    r.code: r
    for r in [
        # files
        Rule("PC001", "yaml-syntax", _E, "the file is not valid YAML (or not UTF-8, or empty)"),
        Rule("PC002", "duplicate-key", _E, "a mapping has the same key twice"),
        Rule("PC003", "unknown-key", _E, "a key promptctl does not know (usually a typo)"),
        Rule("PC004", "invalid-value", _E, "a value has the wrong type or is out of its range"),
        Rule("PC005", "missing-key", _E, "a required key is missing"),
        Rule("PC006", "unsafe-yaml", _E, "anchors, aliases or excessive nesting"),
        Rule(
            "PC007",
            "unsafe-path",
            _E,
            "a file leaves the project (symlink, `..`), is not a regular file, or is too large",
        ),
        # prompts
        Rule("PC101", "template-syntax", _E, "a Jinja2 template does not parse"),
        Rule("PC102", "undeclared-variable", _E, "a template uses a variable `input` lacks"),
        Rule("PC103", "unused-variable", _W, "`input` declares a variable no template uses"),
        Rule("PC104", "bad-model-id", _E, "model is not `<provider>/<model id>`"),
        Rule(
            "PC105",
            "unknown-provider",
            _E,
            "the model's provider is neither built in nor configured",
        ),
        Rule("PC106", "param-out-of-range", _E, "temperature, top_p or max_tokens out of range"),
        Rule("PC107", "invalid-output-schema", _E, "output.schema is not a valid JSON Schema"),
        Rule("PC108", "invalid-input-schema", _E, "an input definition is not a valid JSON Schema"),
        Rule("PC109", "missing-partial", _E, "{% include %} names a partial that does not exist"),
        Rule("PC111", "uses-cycle", _E, "prompts use each other in a cycle (`uses:`)"),
        Rule(
            "PC112",
            "unknown-upstream",
            _E,
            "`uses:` names an unknown prompt, label or revision, or a template an unknown alias",
        ),
        Rule("PC113", "unused-use", _W, "a `uses:` entry no template reads"),
        Rule("PC110", "unknown-param", _W, "a param the provider is not known to accept"),
        # suites and datasets
        Rule("PC201", "unknown-prompt", _E, "a suite names a prompt that does not exist"),
        Rule("PC202", "missing-dataset", _E, "a suite's dataset file does not exist"),
        Rule("PC203", "bad-regex", _E, "a regex scorer's pattern does not compile"),
        Rule("PC204", "case-missing-variable", _E, "a case lacks a variable the prompt requires"),
        Rule("PC205", "duplicate-case-id", _E, "two cases share an id"),
        Rule("PC206", "unknown-scorer", _E, "a scorer type promptctl does not have"),
        Rule("PC207", "bad-dataset-row", _E, "a dataset row is malformed"),
        Rule("PC208", "duplicate-scorer-id", _E, "two scorers of a suite share an id"),
        Rule("PC209", "empty-dataset", _W, "a suite has no cases"),
        Rule("PC210", "invalid-scorer-schema", _E, "a json-schema scorer's schema is invalid"),
        Rule(
            "PC211",
            "case-unknown-variable",
            _W,
            "a case sets a variable the prompt does not declare",
        ),
        Rule(
            "PC212",
            "canary-not-in-system-message",
            _E,
            "a suite's canary variable is not rendered into the prompt's system message",
        ),
        Rule("PC213", "no-judge-model", _E, "a judged scorer has no model and no default judge"),
        Rule("PC214", "missing-scorer-module", _E, "a python scorer's module is not in scorers/"),
        Rule("PC215", "no-embeddings", _E, "a similar scorer has no model and no similar extra"),
        Rule(
            "PC216", "case-variable-type", _E, "a case's variable has not the type the input says"
        ),
        # project config
        Rule("PC301", "bad-provider-config", _E, "a provider entry in promptctl.yaml is invalid"),
        Rule(
            "PC302", "untrusted-key-variable", _E, "api_key_env names a variable that is not a key"
        ),
        # labels
        Rule(
            "PC310",
            "bad-policy",
            _E,
            "the policy in promptctl.yaml is invalid or names an unknown label or suite",
        ),
        Rule("PC401", "label-unknown-prompt", _E, "labels.yaml names a prompt that does not exist"),
        Rule("PC402", "label-bad-name", _E, "a label name does not match ^[a-z0-9_.-]{1,36}$"),
        Rule(
            "PC403", "label-unknown-version", _W, "a label points at a version not found in history"
        ),
        Rule(
            "PC404",
            "baseline-unknown-version",
            _W,
            "a baseline records a version its prompt can no longer produce",
        ),
        # baselines
        Rule("PC501", "bad-baseline", _E, "a baseline file is corrupt or from a newer format"),
    ]
}
