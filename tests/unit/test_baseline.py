"""Baseline files: stable bytes, one case per line, round trip, damaged files refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptctl.errors import UsageError
from promptctl.gate import baseline as bl
from promptctl.model import Gate, RecordedOutput, RunData, ScorerOutcome
from promptctl.project.config import Config, Project


def _run(order: int = 1) -> RunData:
    outcomes = [
        ScorerOutcome(
            case_id=cid,
            case_hash=f"h-{cid}",
            scorer_id=sid,
            scorer_hash=f"sh-{sid}",
            mean_score=score,
            pass_fraction=frac,
            repeats=3,
            errors=err,
        )
        for cid, sid, score, frac, err in [
            ("t-002", "shape", 2 / 3, 2 / 3, 1),
            ("t-001", "shape", 1.0, 1.0, 0),
            ("t-001", "has-summary", 0.1 + 0.2, 1 / 3, 0),
            ("t-002", "has-summary", -0.0, 0.0, 0),
        ]
    ]
    outputs = [
        RecordedOutput(
            case_id="t-001",
            repeat=r,
            request_key=f"k1{r}",
            output=f"Summary: {r}",
            input_tokens=10,
            output_tokens=5,
            cost_usd=1e-7,
        )
        for r in (2, 0, 1)
    ] + [
        RecordedOutput(
            case_id="t-002",
            repeat=0,
            request_key="k20",
            output='ünïcode "q"\n',
            cost_usd=0.1 + 0.2 - 3e-7,
        )
    ]
    return RunData(
        run_id="20261125T120000Z-demo-abcd",
        path="/x",
        suite="demo",
        prompt="summarize",
        prompt_version="0123456789ab",
        model="mock/echo",
        params={"temperature": 0.2},
        gate=Gate(min_pass_rate=0.9),
        scorer_hashes={"shape": "sh-shape", "has-summary": "sh-has-summary"},
        outcomes=tuple(outcomes[::order]),
        outputs=tuple(outputs[::order]),
        cost_usd=0.1 + 0.2,
    )


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(root=tmp_path, config=Config())


def test_file_is_compact_sorted_one_case_per_line(proj: Project) -> None:
    path, changed = bl.write(proj, bl.from_run(_run()))
    assert changed
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[:2] == ["{", '"cases": [']
    assert lines[2].startswith('{"hash":"h-t-001","id":"t-001","outputs":[')
    assert lines[3].startswith('{"hash":"h-t-002","id":"t-002"')
    assert lines[4] == "],"
    assert '"cost_usd": 0.3,' in lines  # the outputs' cost, 0.30000000000000004 -> 6 places
    assert "run_id" not in path.read_text(encoding="utf-8")  # it would churn the file
    assert '"format": 1,' in lines
    assert lines[-1] == "}"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["cases"][0]["scores"]["has-summary"] == {
        "errors": 0,
        "mean": 0.3,
        "pass": 0.333333,
        "repeats": 3,
    }
    assert [o["repeat"] for o in data["cases"][0]["outputs"]] == [0, 1, 2]
    assert data["cases"][1]["scores"]["has-summary"]["mean"] == 0.0  # -0.0 normalised


def test_rewriting_is_byte_identical_whatever_the_input_order(proj: Project) -> None:
    path, _ = bl.write(proj, bl.from_run(_run()))
    first = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    _, changed = bl.write(proj, bl.from_run(_run(order=-1)))
    assert not changed
    assert path.read_bytes() == first
    assert path.stat().st_mtime_ns == mtime  # not even touched
    assert bl.dumps(bl.read(proj, "demo")) == first.decode("utf-8")  # type: ignore[arg-type]


def test_round_trip_keeps_outcomes_and_outputs(proj: Project) -> None:
    bl.write(proj, bl.from_run(_run()))
    b = bl.read(proj, "demo")
    assert b is not None
    assert b.path == "evals/baselines/demo.json" and b.commit is None
    assert (b.prompt, b.prompt_version, b.model) == ("summarize", "0123456789ab", "mock/echo")
    assert b.gate.min_pass_rate == 0.9 and b.gate_hash == Gate(min_pass_rate=0.9).hash
    assert {(o.case_id, o.scorer_id): o.pass_fraction for o in b.outcomes}[
        ("t-002", "shape")
    ] == pytest.approx(2 / 3, abs=1e-6)
    index = bl.replay_index(b)
    assert set(index) == {"k10", "k11", "k12", "k20"}
    assert index["k20"].output == 'ünïcode "q"\n'
    assert index["k11"].repeat == 1 and index["k11"].input_tokens == 10


def test_outputs_can_be_left_out(proj: Project) -> None:
    path, _ = bl.write(proj, bl.from_run(_run(), record_outputs=False))
    assert '"outputs"' not in path.read_text(encoding="utf-8")
    assert bl.replay_index(bl.read(proj, "demo")) == {}


def test_missing_baseline_is_none(proj: Project) -> None:
    assert bl.read(proj, "nope") is None
    assert bl.replay_index(None) == {}


def test_no_temp_file_is_left_behind(proj: Project) -> None:
    path, _ = bl.write(proj, bl.from_run(_run()))
    assert sorted(p.name for p in path.parent.iterdir()) == ["demo.json"]


def _damage(proj: Project, mutate: object) -> UsageError:
    path, _ = bl.write(proj, bl.from_run(_run()))
    text = path.read_text(encoding="utf-8")
    path.write_text(mutate(text), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(UsageError) as info:
        bl.read(proj, "demo")
    assert info.value.exit_code == 2
    assert "promptctl baseline update demo" in (info.value.hint or "")
    return info.value


def test_corrupt_json_names_file_line_and_column(proj: Project) -> None:
    err = _damage(proj, lambda t: t.replace('"id":"t-002"', '"id":"t-002'))
    assert str(err.where).startswith("evals/baselines/demo.json:4:")
    assert "not valid JSON" in err.message


def test_invalid_case_shape_names_its_line(proj: Project) -> None:
    err = _damage(proj, lambda t: t.replace('"pass":0.666667', '"pass":"lots"'))
    assert str(err.where) == "evals/baselines/demo.json:4"
    assert "t-002" in err.message


def test_newer_format_is_refused_with_its_line(proj: Project) -> None:
    err = _damage(proj, lambda t: t.replace('"format": 1,', '"format": 2,'))
    assert "newer" in err.message and "upgrade promptctl" in err.message
    assert err.where is not None and err.where.line is not None
    assert err.where.line > 4


def test_wrong_top_level_type_is_refused(proj: Project) -> None:
    err = _damage(proj, lambda t: "[1, 2]\n")
    assert "top level" in err.message


def test_score_for_unknown_scorer_is_refused(proj: Project) -> None:
    err = _damage(proj, lambda t: t.replace('"shape":"sh-shape"', '"other":"sh-shape"'))
    assert "unknown scorer 'shape'" in err.message


def test_scorer_hash_follows_judge_template_content_not_its_path(tmp_path: Path) -> None:
    from promptctl.model import ScorerSpec

    def spec(where: Path, text: str) -> ScorerSpec:
        where.mkdir(parents=True, exist_ok=True)
        (where / "judge.yaml").write_text(text, encoding="utf-8")
        return ScorerSpec(
            id="j", type="llm-judge", options={"rubric": "r", "template": str(where / "judge.yaml")}
        )

    a = spec(tmp_path / "checkout-a", "system: s\nuser: u\n")
    b = spec(tmp_path / "checkout-b", "system: s\nuser: u\n")
    c = spec(tmp_path / "checkout-c", "system: s\nuser: changed\n")
    assert a.hash == b.hash  # another clone, same template: comparable with its baseline
    assert a.hash != c.hash  # an edited judge template is a different scorer


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.text(min_size=1, max_size=12),
            st.floats(0, 1),
            st.integers(1, 5),
            st.text(max_size=40),
        ),
        min_size=1,
        max_size=8,
        unique_by=lambda r: r[0],
    ),
)
def test_dump_parse_dump_is_byte_identical(rows: list[tuple[str, float, int, str]]) -> None:
    outcomes = tuple(
        ScorerOutcome(
            case_id=cid,
            case_hash="h",
            scorer_id="s",
            scorer_hash="x",
            mean_score=frac,
            pass_fraction=frac,
            repeats=reps,
        )
        for cid, frac, reps, _ in rows
    )
    outputs = tuple(
        RecordedOutput(case_id=cid, repeat=0, request_key=f"k-{i}", output=text)
        for i, (cid, _, _, text) in enumerate(rows)
    )
    b = bl.Baseline(
        suite="s",
        prompt="p",
        prompt_version="v",
        model="m/m",
        params={"t": 0.1},
        gate=Gate(),
        gate_hash=Gate().hash,
        scorer_hashes={"s": "x"},
        outcomes=outcomes,
        outputs=outputs,
    )
    text = bl.dumps(b)
    assert len(text.splitlines()) == len(rows) + 14  # one line per case, by any reckoning
    again = bl.dumps(bl.parse(text.encode("utf-8"), "b.json", "s"))
    assert again == text
    assert {o.output for o in bl.parse(text.encode("utf-8"), "b.json", "s").outputs} == {
        r[3] for r in rows
    }


def test_judge_outputs_keep_their_mark_through_the_file() -> None:
    from promptctl.gate import baseline as bl
    from promptctl.model import Gate, RecordedOutput, RunData, ScorerOutcome

    run = RunData(
        run_id="r",
        path="r",
        suite="s",
        prompt="p",
        prompt_version="0" * 12,
        model="mock/echo",
        params={},
        gate=Gate(),
        scorer_hashes={"j": "h"},
        outcomes=(
            ScorerOutcome(
                case_id="c", case_hash="x", scorer_id="j", scorer_hash="h", mean_score=1.0,
                pass_fraction=1.0, repeats=1,
            ),
        ),
        outputs=(
            RecordedOutput(case_id="c", repeat=0, request_key="k1", output="reply"),
            RecordedOutput(case_id="c", repeat=0, request_key="k2", output="{}", judge=True),
        ),
    )  # fmt: skip
    text = bl.dumps(bl.from_run(run))
    assert '"judge":true,"key":"k2"' in text and '"key":"k1","output"' in text
    parsed = bl.parse(text.encode(), "s.json", "s")
    assert {(o.request_key, o.judge) for o in parsed.outputs} == {("k1", False), ("k2", True)}


def test_a_written_baseline_is_read_line_by_line_to_the_same_result() -> None:
    """The streaming reader (header alone, one case line at a time) and the whole-file JSON
    parse agree, and a file in another layout (reformatted by hand) still reads."""
    import json as json_mod

    from promptctl.gate import baseline as bl

    cases = [
        json_mod.dumps(
            {
                "hash": f"h{i}",
                "id": f"c{i}",
                "outputs": [{"key": f"k{i}", "output": f"out\n{i}", "repeat": 0}],
                "scores": {"s": {"errors": 0, "mean": 1.0, "pass": 1.0, "repeats": 1}},
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        for i in range(3)
    ]
    header = {
        "cost_usd": 0.0,
        "format": 1,
        "gate": {},
        "gate_hash": "g",
        "model": "mock/echo",
        "params": {},
        "prompt": "p",
        "prompt_version": "0123456789ab",
        "scorers": {"s": "x"},
        "suite": "demo",
    }
    text = (
        '{\n"cases": [\n'
        + ",\n".join(cases)
        + "\n],\n"
        + ",\n".join(f"{json_mod.dumps(k)}: {json_mod.dumps(v)}" for k, v in sorted(header.items()))
        + "\n}\n"
    )
    assert bl._split_cases(text.encode()) is not None
    streamed = bl.parse(text.encode(), "b.json", "demo")
    whole = bl.parse(json_mod.dumps(json_mod.loads(text), indent=2).encode(), "b.json", "demo")
    assert bl._split_cases(json_mod.dumps(json_mod.loads(text), indent=2).encode()) is None
    assert streamed == whole
    assert [o.output for o in streamed.outputs] == ["out\n0", "out\n1", "out\n2"]


def _big_run(cases: int, output_size: int, *, same_key: bool = False) -> RunData:
    """`cases` cases with one output of `output_size` characters each."""
    outcomes = tuple(
        ScorerOutcome(
            case_id=f"c{i:05d}",
            case_hash=f"h{i}",
            scorer_id="s",
            scorer_hash="sh",
            mean_score=1.0,
            pass_fraction=1.0,
            repeats=1,
        )
        for i in range(cases)
    )
    outputs = tuple(
        RecordedOutput(
            case_id=f"c{i:05d}",
            repeat=0,
            request_key="same" if same_key else f"k{i}",
            output=f"{i:05d}" + "x" * (output_size - 5),
        )
        for i in range(cases)
    )
    return RunData(
        run_id="r",
        path="/x",
        suite="big",
        prompt="p",
        prompt_version="0123456789ab",
        model="mock/echo",
        params={},
        gate=Gate(),
        scorer_hashes={"s": "sh"},
        outcomes=outcomes,
        outputs=outputs,
    )


def test_recorded_outputs_stay_on_disk_until_asked_for(proj: Project) -> None:
    """Issue 18: a read baseline keeps each output's key hash and line span, not the output;
    replay and iteration parse the line again and give what was written."""
    import gc
    import tracemalloc

    cases, size = 3000, 2000  # 6 MB of outputs: over bl.KEEP_OPEN_BYTES
    bl.write(proj, bl.from_run(_big_run(cases, size)))
    gc.collect()
    tracemalloc.start()
    try:
        b = bl.read(proj, "big")
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b is not None and len(b.outputs) == cases
    assert held < cases * size / 4, f"{held} bytes held for {cases * size} bytes of outputs"
    index = bl.replay_index(b)
    assert index["k2999"].output.startswith("02999x") and len(index["k2999"].output) == size
    assert index.get("k-none") is None and "k-none" not in index and "k17" in index
    with pytest.raises(KeyError):
        index["k-none"]
    assert [o.output[:5] for o in b.outputs][:3] == ["00000", "00001", "00002"]
    assert len(list(b.outputs)) == cases


@pytest.mark.parametrize("size", [10, 1 << 20])  # bytes kept, then the file kept open
def test_replay_reads_the_bytes_it_parsed_after_the_file_is_rewritten(
    proj: Project, size: int
) -> None:
    """The reader keeps the bytes of a small file, a large one open: `--update-baseline` (an
    atomic rename) during or after a gated run cannot change what that run replays."""
    bl.write(proj, bl.from_run(_big_run(3, size)))
    before = bl.read(proj, "big")
    assert before is not None
    run = _big_run(3, size)
    changed = tuple(
        RecordedOutput(case_id=o.case_id, repeat=0, request_key=o.request_key, output="new")
        for o in run.outputs
    )
    import dataclasses

    _, wrote = bl.write(proj, bl.from_run(dataclasses.replace(run, outputs=changed)))
    assert wrote
    assert bl.replay_index(before)["k1"].output == "00001" + "x" * (size - 5)
    after = bl.read(proj, "big")
    assert after is not None and bl.replay_index(after)["k1"].output == "new"


def test_the_last_recorded_output_of_a_request_wins_as_in_a_dict(proj: Project) -> None:
    """Two cases that made the same request (same key): replay answers with the last recorded,
    as the whole-file reader's dict did."""
    bl.write(proj, bl.from_run(_big_run(4, 8, same_key=True)))
    b = bl.read(proj, "big")
    assert b is not None
    assert bl.replay_index(b)["same"].output == "00003xxx"
    assert {o.request_key: o for o in b.outputs}["same"] == bl.replay_index(b)["same"]
    assert list(bl.replay_index(b)) == ["same"] and len(bl.replay_index(b)) == 1


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors in /proc")
def test_small_baselines_hold_no_file_open(proj: Project) -> None:
    """Only a baseline over KEEP_OPEN_BYTES keeps its file open: an eval of 200 suites must not
    hold 200 descriptors."""
    import dataclasses

    for i in range(200):
        bl.write(proj, bl.from_run(dataclasses.replace(_big_run(2, 10), suite=f"s{i}")))
    before = len(list(Path("/proc/self/fd").iterdir()))
    held = [bl.read(proj, f"s{i}") for i in range(200)]
    assert len(list(Path("/proc/self/fd").iterdir())) - before < 5
    assert all(b is not None and bl.replay_index(b)["k1"].output for b in held)
    big = bl.write(proj, bl.from_run(_big_run(2, bl.KEEP_OPEN_BYTES)))[0]
    kept = bl.read(proj, "big")
    assert kept is not None
    fds = [Path("/proc/self/fd", n) for n in os.listdir("/proc/self/fd")]
    assert any(os.path.realpath(f) == str(big.resolve()) for f in fds)
