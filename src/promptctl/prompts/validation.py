"""JSON Schema checks that never fetch: no remote or file:// $ref, user patterns time-bounded."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from promptctl import regexes
from promptctl.model import canonical_json


def _no_retrieve(uri: str) -> Any:
    from referencing.exceptions import NoSuchResource

    # jsonschema fetches remote and file:// $refs by default; a schema in a PR must not.
    raise NoSuchResource(ref=uri)


@lru_cache(maxsize=1)
def _validator_class() -> Any:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if not validator.is_type(instance, "string"):
            return
        try:
            hit = regexes.search_bounded(patrn, instance)
        except regexes.RegexTimeout as e:
            yield ValidationError(str(e))
            return
        except Exception:  # noqa: BLE001 - a bad pattern is reported by check_schema
            yield ValidationError(f"pattern {patrn!r} does not compile")
            return
        if not hit:
            yield ValidationError(f"{instance!r} does not match {patrn!r}")

    return validators.extend(Draft202012Validator, {"pattern": pattern})


def _registry() -> Any:
    from referencing import Registry

    return Registry(retrieve=_no_retrieve)


def schema_errors(schema: Any) -> list[str]:
    """Why `schema` is not a valid JSON Schema (Draft 2020-12), as readable lines."""
    from jsonschema import Draft202012Validator

    if not isinstance(schema, Mapping | bool):
        return ["a JSON Schema must be a mapping"]
    errors = []
    for err in Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema):
        where = "/".join(str(p) for p in err.absolute_path)
        errors.append(f"{where + ': ' if where else ''}{err.message}")
    errors.extend(_pattern_errors(schema))
    return errors


def _pattern_errors(schema: Any) -> list[str]:
    out = []
    if isinstance(schema, Mapping):
        for key, value in schema.items():
            if key == "pattern" and isinstance(value, str):
                msg = regexes.compile_error(value)
                if msg:
                    out.append(msg)
            else:
                out.extend(_pattern_errors(value))
    elif isinstance(schema, list):
        for item in schema:
            out.extend(_pattern_errors(item))
    return out


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Any:
    import json

    cls = _validator_class()
    return cls(json.loads(schema_json), registry=_registry())


def validate(instance: Any, schema: Mapping[str, Any]) -> list[str]:
    """Readable reasons `instance` fails `schema` (empty when valid). Never fetches a $ref."""
    from referencing.exceptions import Unresolvable

    validator = _compiled(canonical_json(schema))
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    except Unresolvable as e:
        return [f"$ref {getattr(e, 'ref', '')!r} cannot be resolved: remote refs are not fetched"]
    out = []
    for err in errors:
        where = "/".join(str(p) for p in err.absolute_path)
        out.append(f"{where + ': ' if where else ''}{err.message}")
    return out
