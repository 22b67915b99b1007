"""Typed run records (evals/runs.py) read what earlier versions wrote and write the same bytes."""

from __future__ import annotations

import json

import pytest

from promptctl.evals import runs
from promptctl.model import Gate

# Lines as promptctl wrote them before the records were typed (key order included; a chain's
# steps sit before request_key, which is null when an upstream step failed).
OLD_LINES = [
    '{"suite":"s","case_id":"t-1","case_hash":"ab","repeat":0,"critical":false,"request_key":"k1",'
    '"output":"Paris","scores":{"has":{"score":1.0,"passed":true,"reason":"found","error":null}},'
    '"input_tokens":12,"output_tokens":3,"latency_s":0.25,"cost_usd":1e-05,"cached":false,'
    '"error":null}',
    '{"suite":"s","case_id":"t-2","case_hash":"cd","repeat":1,"critical":true,"request_key":"k2",'
    '"replayed":true,"judge_outputs":[{"key":"j1","output":"4","input_tokens":5,'
    '"output_tokens":1,"cost_usd":null}],"output":"x","scores":{"judge":{"score":0.75,'
    '"passed":true,"reason":"4/5","error":null}},"input_tokens":null,"output_tokens":null,'
    '"latency_s":0.0,"cost_usd":null,"cached":true,"error":null}',
    '{"suite":"s","case_id":"t-3","case_hash":"ef","repeat":0,"critical":false,"request_key":"k3",'
    '"output":null,"scores":{},"input_tokens":null,"output_tokens":null,"latency_s":null,'
    '"cost_usd":null,"cached":false,"error":"HTTP 500 after 3 retries"}',
    '{"suite":"s","case_id":"t-4","case_hash":"gh","repeat":0,"critical":false,"steps":[{"step":'
    '"intent","prompt":"classify","version":"0123456789ab","key":"u1","output":"billing",'
    '"input_tokens":4,"output_tokens":1,"cost_usd":null,"cached":false,"replayed":false}],'
    '"request_key":"k4","output":"ok","scores":{},"input_tokens":3,"output_tokens":1,'
    '"latency_s":0.1,"cost_usd":null,"cached":false,"error":null}',
]


def test_a_line_from_before_chains_still_reads() -> None:
    """Before chains, request_key came before critical: the order differs, the record does not."""
    old = json.loads(OLD_LINES[0])
    reordered = {k: old[k] for k in ("suite", "case_id", "case_hash", "repeat", "request_key")}
    reordered.update(old)
    assert runs.ResultLine.from_json(reordered) == runs.ResultLine.from_json(old)


@pytest.mark.parametrize("text", OLD_LINES)
def test_a_result_line_reads_and_writes_the_same_bytes(text: str) -> None:
    line = runs.ResultLine.from_json(json.loads(text))
    assert json.dumps(line.to_json(), ensure_ascii=False, separators=(",", ":")) == text


def test_keys_a_newer_version_wrote_are_kept() -> None:
    raw = {**json.loads(OLD_LINES[0]), "batch_id": "b-1"}
    line = runs.ResultLine.from_json(raw)
    assert line.extra == {"batch_id": "b-1"} and line.to_json() == raw


def test_run_json_and_summary_json_round_trip() -> None:
    header = {
        "run_id": "20261201T000000Z-s-abcd",
        "suite": "s",
        "suite_path": "/p/evals/s.yaml",
        "prompt": "p",
        "prompt_version": "0123456789ab",
        "model": "mock/echo",
        "params": {"temperature": 0.2},
        "scorer_hashes": {"has": "h1"},
        "gate": Gate(min_pass_rate=0.9).fields(),
        "gate_hash": Gate(min_pass_rate=0.9).hash,
        "uses": {},
        "repeat": 3,
        "canary": None,
        "cases": 10,
        "pairs": 30,
        "filter": None,
        "shard": "1/2",
        "invocation": "20261201T000000Z-1234",
        "started_at": "2026-12-01T00:00:00+00:00",
    }
    parsed = runs.RunHeader.from_json(header)
    assert parsed.gate == Gate(min_pass_rate=0.9) and parsed.shard == "1/2"
    assert parsed.to_json() == header
    # `fresh`: absent in earlier versions' run.json (not fresh), written only when set
    assert parsed.fresh is False
    fresh = runs.RunHeader.from_json({**header, "fresh": True})
    assert fresh.fresh is True and fresh.extra == {}
    assert fresh.to_json() == {**header, "fresh": True}
    summary = {
        "run_id": header["run_id"],
        "suite": "s",
        "status": "complete",
        "error": None,
        "prompt": "p",
        "prompt_version": "0123456789ab",
        "model": "mock/echo",
        "pairs_total": 30,
        "repeat": 3,
        "calls": 30,
        "cache_hits": 0,
        "retries": 0,
        "pairs_done": 30,
        "cases": 10,
        "call_errors": 0,
        "cached": 0,
        "input_tokens": 300,
        "output_tokens": 90,
        "judge_input_tokens": 0,
        "judge_output_tokens": 0,
        "cost_usd": 0.0,
        "latency_p50_s": 0.0,
        "latency_p95_s": 0.0,
        "scorers": {
            "has": {
                "n": 30,
                "passed": 12,
                "errors": 0,
                "pass_rate": 0.4,
                "wilson_low": 0.16818,
                "wilson_high": 0.687326,
                "mean_score": 0.4,
            }
        },
        "worst_cases": [
            {"case_id": "t-5", "mean_score": 0.0, "critical": False, "reasons": ["has: no"]}
        ],
        "floor_failures": [],
        "finished_at": "2026-12-01T00:00:05+00:00",
        "judge_cost_usd": 0.0,
        "gate": {"verdict": "new", "exit_code": 0},
        "replayed": 0,
        "judge_replayed": 0,
    }
    read = runs.Summary.from_json(summary)
    assert read.complete and read.scorers["has"].wilson_low == 0.16818
    assert json.dumps(read.to_json(), sort_keys=True) == json.dumps(summary, sort_keys=True)
    ungated = {k: v for k, v in summary.items() if k != "gate"}
    assert runs.Summary.from_json(ungated).to_json() == ungated
    # a summary from before judge tokens were counted still reads (as zero judge tokens)
    older = {k: v for k, v in ungated.items() if not k.startswith("judge_")}
    assert runs.Summary.from_json(older).judge_input_tokens == 0
