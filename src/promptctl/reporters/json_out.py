"""An eval result as one JSON document (`eval --format json`, and results.json under --output)."""

from __future__ import annotations

from typing import Any

from promptctl.evals.runner import EvalResult, SuiteResult


def suite_json(s: SuiteResult) -> dict[str, Any]:
    return {
        "suite": s.suite.name,
        "run_id": s.run_id,
        "run_dir": s.run_dir,
        "status": s.status,
        "exit_code": s.exit_code,
        "prompt": s.prompt,
        "prompt_version": s.prompt_version,
        "model": s.model,
        "error": s.error,
        "floor_failures": [
            {"kind": f.kind, "scorer": f.scorer_id, "case_id": f.case_id, "message": f.message}
            for f in s.floor_failures
        ],
        "summary": s.summary.to_json(),
        "replayed": s.replayed,
        "gate": _gate(s),
    }


def _gate(s: SuiteResult) -> dict[str, Any] | None:
    if s.gate is None:
        return None
    from promptctl.gate.verdict import as_dict

    return as_dict(s.gate)


def eval_json(result: EvalResult) -> dict[str, Any]:
    return {"exit_code": result.exit_code, "suites": [suite_json(s) for s in result.suites]}
