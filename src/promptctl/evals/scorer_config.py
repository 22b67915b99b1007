"""The scorer config format: the keys a scorer entry may have, and a dataset row's `assert:` list.

Its own module so datasets.py (rows) and suites.py (inline cases) both import it without
importing each other; a suite's `scorers:` list is checked with the same keys.
"""

from __future__ import annotations

from promptctl.errors import Location, UsageError
from promptctl.model import ScorerSpec
from promptctl.project import yamlio
from promptctl.project.checks import did_you_mean

SCORER_KEYS = (
    "id",
    "type",
    "value",
    "model",
    "rubric",
    "scale",
    "pass",
    "template",
    "threshold",
    "min",
    "max",
    "kinds",
    "timeout_s",
)


def row_scorers(items: object, where: Location) -> tuple[ScorerSpec, ...]:
    """A dataset row's `assert:` list -> ScorerSpecs; the first problem is a UsageError at `where`.

    The same keys and checks as a suite's `scorers:` (a judge `template` excepted: a row has no
    directory to resolve it against); ids default to the type and are unique within the row.
    """
    if not isinstance(items, list):
        raise UsageError("case `assert` must be a list of scorers", where=where)
    from promptctl import scorers as registry

    specs: list[ScorerSpec] = []
    for i, item in enumerate(items):
        what = f"assert[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise UsageError(
                f"{what} must be a mapping with a `type`",
                where=where,
                hint='e.g. "assert": [{"type": "icontains", "value": "refund"}]',
            )
        for key in item:
            if key not in SCORER_KEYS or key == "template":
                allowed = [k for k in SCORER_KEYS if k != "template"]
                hint = did_you_mean(str(key), allowed) or f"allowed keys: {', '.join(allowed)}"
                raise UsageError(f"unknown key {key!r} in {what}", where=where, hint=hint)
        try:
            base, negate = registry.resolve_type(item["type"])
        except UsageError as e:
            raise UsageError(f"{what}: {e.message}", where=where, hint=e.hint) from None
        sid = item.get("id", item["type"])
        if not isinstance(sid, str) or not sid:
            raise UsageError(f"{what}: `id` must be a non-empty string", where=where)
        if any(s.id == sid for s in specs):
            raise UsageError(
                f"{what}: scorer id {sid!r} is used twice in this case",
                where=where,
                hint="give each scorer a distinct `id:`",
            )
        spec = ScorerSpec(
            id=sid,
            type=base,
            negate=negate,
            value=yamlio.plain(item.get("value")),
            options={
                k: yamlio.plain(v) for k, v in item.items() if k not in ("id", "type", "value")
            },
            source=where,
        )
        for _code, message, _key in registry.check_spec(spec):
            raise UsageError(f"{what}: scorer {sid!r}: {message}", where=where)
        specs.append(spec)
    return tuple(specs)
