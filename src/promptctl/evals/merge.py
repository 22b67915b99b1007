"""`promptctl merge`: shard runs (`eval --shard I/N`) -> one run per suite, gated as a whole.

Checks first, writes second: every run must be a complete shard; the shards of a suite must
agree on everything that decides a result (prompt version, model, params, scorers, gate, repeat,
filter, shard count, the baseline they were gated against), cover 1..N once each, and share no
case. The merged run is a new run directory whose results.jsonl holds every shard's records and
whose summary and gate are computed exactly as `eval` computes them for an unsharded run
(results.Tally over the lines, floors, gate.evaluate against the same baseline), so a sharded CI
gives the verdict and numbers a single job would have given.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from promptctl.errors import Location, UsageError
from promptctl.evals import datasets, results, runs
from promptctl.gate.floors import check_floors
from promptctl.model import RunData, Suite
from promptctl.project.config import Project

# Meta fields every shard of a suite must share: any difference means different experiments.
_SAME = (
    "prompt",
    "prompt_version",
    "model",
    "params",
    "scorer_hashes",
    "gate_hash",
    "repeat",
    "filter",
)
_UNKNOWN = object()  # the baseline a shard was gated against, when it says nothing


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard run as read from disk."""

    path: Path
    header: runs.RunHeader
    summary: runs.Summary
    index: int  # 1-based
    count: int

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def suite(self) -> str:
        return self.header.suite


@dataclass(frozen=True, slots=True)
class MergePlan:
    """The shards of one suite, validated, in shard order."""

    suite: str
    shards: tuple[Shard, ...]


def expand(project: Project, refs: Sequence[str]) -> list[Path]:
    """Run ids or directories -> run directories. A directory that holds run directories (say,
    downloaded CI artifacts) stands for all of them."""
    out: list[Path] = []
    for ref in refs:
        path = Path(ref)
        if path.is_dir() and not (path / runs.META).is_file():
            found = sorted(p.resolve() for p in path.iterdir() if (p / runs.META).is_file())
            if not found:
                raise UsageError(
                    f"{ref}: neither a run directory nor a directory of runs",
                    hint="pass run directories or ids (.promptctl/runs/<id>)",
                )
            out.extend(found)
            continue
        out.append(runs.find_run(project, ref))
    seen: dict[Path, int] = {}
    for p in out:
        seen[p] = seen.get(p, 0) + 1
    twice = sorted(p.name for p, n in seen.items() if n > 1)
    if twice:
        raise UsageError(f"run {twice[0]} is given more than once", hint="name each shard once")
    return out


def _read_shard(path: Path) -> Shard:
    header = runs.read_header(path)
    where = Location(str(path / runs.META))
    shard = header.shard
    if not shard:
        raise UsageError(
            f"run {path.name} (suite {header.suite}) is not a shard",
            where=where,
            hint="merge takes the runs of `eval --shard I/N`",
        )
    try:
        parsed = datasets.parse_shard(str(shard))
    except UsageError:
        raise UsageError(f"run {path.name}: shard {shard!r} is not I/N", where=where) from None
    assert parsed is not None
    summary = runs.read_summary(path)
    if summary is None or not summary.complete:
        status = summary.status if summary is not None else "unfinished"
        raise UsageError(
            f"run {path.name} (suite {header.suite}, shard {shard}) is {status}, not complete",
            hint=f"finish it first: promptctl eval --resume {path.name}",
        )
    return Shard(path=path, header=header, summary=summary, index=parsed[0], count=parsed[1])


def _baseline_key(s: Shard) -> Any:
    gate = s.summary.gate
    if gate is None:
        return _UNKNOWN  # the shard was not gated: nothing says which baseline it had
    base = gate.get("baseline")
    if not isinstance(base, Mapping):
        return None
    return (base.get("path"), base.get("commit"))


def plan(paths: Sequence[Path]) -> list[MergePlan]:
    """Validate that `paths` are complete sets of shards (one set per suite).

    Raises:
        UsageError: not a shard, unfinished, shards that disagree, missing or duplicated shards,
            or a case in two shards; the message names the runs and what is wrong.
    """
    if not paths:
        raise UsageError("no runs to merge", hint="promptctl merge RUN... (the shard runs)")
    groups: dict[str, list[Shard]] = {}
    for p in paths:
        s = _read_shard(p)
        groups.setdefault(s.suite, []).append(s)
    problems: list[str] = []
    for suite, shards in groups.items():
        problems += _check_group(suite, shards)
    if problems:
        lead = ""
        if len(groups) > 1:
            have = "; ".join(
                f"{name}: "
                + ", ".join(f"{s.index}/{s.count}" for s in sorted(g, key=lambda s: s.index))
                for name, g in sorted(groups.items())
            )
            lead = f"the runs are shards of different suites ({have}); "
        raise UsageError(
            lead + "; ".join(problems),
            hint="merge exactly the N shard runs of each suite from one CI run",
        )
    return [
        MergePlan(suite, tuple(sorted(g, key=lambda s: s.index)))
        for suite, g in sorted(groups.items())
    ]


def _check_group(suite: str, shards: list[Shard]) -> list[str]:
    first = shards[0]
    for s in shards[1:]:
        if s.count != first.count:
            return [
                f"suite {suite}: run {first.run_id} is shard {first.index}/{first.count} but "
                f"run {s.run_id} is shard {s.index}/{s.count} (different shard counts)"
            ]
        for key in _SAME:
            if getattr(s.header, key) != getattr(first.header, key):
                what = {
                    "prompt_version": "prompt versions",
                    "scorer_hashes": "scorers",
                    "gate_hash": "gates",
                    "params": "model params",
                }.get(key, f"{key}s")
                shown = ""
                if key in ("prompt_version", "model", "prompt", "repeat", "filter"):
                    shown = f" ({getattr(first.header, key)} vs {getattr(s.header, key)})"
                return [
                    f"suite {suite}: runs {first.run_id} and {s.run_id} have different "
                    f"{what}{shown}"
                ]
        if _baseline_key(s) != _baseline_key(first):
            return [
                f"suite {suite}: runs {first.run_id} and {s.run_id} were gated against "
                "different baselines"
            ]
    problems: list[str] = []
    by_index: dict[int, list[Shard]] = {}
    for s in shards:
        by_index.setdefault(s.index, []).append(s)
    for index, same in sorted(by_index.items()):
        if len(same) > 1:
            problems.append(
                f"suite {suite}: shard {index}/{first.count} appears "
                f"{len(same)} times (runs {', '.join(x.run_id for x in same)})"
            )
    missing = [i for i in range(1, first.count + 1) if i not in by_index]
    if missing:
        problems.append(
            f"suite {suite}: missing shard"
            f"{'s' if len(missing) > 1 else ''} "
            f"{', '.join(f'{i}/{first.count}' for i in missing)}"
        )
    if problems:
        return problems
    owner: dict[str, str] = {}
    for s in shards:
        for case_id, _ in runs.latest_lines(s.path):
            prior = owner.setdefault(case_id, s.run_id)
            if prior != s.run_id:
                return [f"suite {suite}: case {case_id!r} is in runs {prior} and {s.run_id}"]
    return []


# ----------------------------------------------------------------------------- merging


def merge(project: Project, paths: Sequence[Path], *, baseline_ref: str | None = None) -> Any:
    """Merge shard runs into one new run per suite and gate each; an `EvalResult`.

    The baseline is the one the shards were gated against (the commit recorded in their
    summaries), unless `baseline_ref` names another revision.
    """
    from promptctl.evals.runner import EvalResult, decide

    plans = plan(paths)
    invocation = (
        dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{secrets.token_hex(2)}"
    )
    merged = EvalResult(
        suites=tuple(_merge_one(project, p, invocation, baseline_ref) for p in plans)
    )
    return decide(merged)  # one merge, one decision, as for one eval (issue 17 §1)


def _merge_one(project: Project, p: MergePlan, invocation: str, baseline_ref: str | None) -> Any:
    from promptctl.evals.runner import SuiteResult, prompt_location
    from promptctl.gate import verdict as gate_mod

    first = p.shards[0].header
    lines: dict[tuple[str, int], runs.ResultLine] = {}
    for s in p.shards:
        lines.update(runs.latest_lines(s.path))
    header = replace(
        first,
        run_id=runs.new_run_id(p.suite),
        shard=None,
        invocation=invocation,
        cases=sum(s.header.cases for s in p.shards),
        pairs=sum(s.header.pairs for s in p.shards),
        merged_from=tuple(s.run_id for s in p.shards),
        started_at=min(s.header.started_at for s in p.shards),
    )
    writer = runs.RunWriter.create(project, header)
    try:
        ordered = [lines[key] for key in sorted(lines)]
        for line in ordered:
            writer.append(line)
        tally = results.tally_of(ordered, first.scorer_hashes)
        outcomes = tuple(tally.outcomes())
        floors = tuple(check_floors(first.gate, outcomes))

        def summarize(gate: Mapping[str, Any] | None) -> runs.Summary:
            """summary.json as `eval` writes it for an unsharded run of the same cases."""
            return results.build_summary(
                run_id=writer.run_id,
                suite=p.suite,
                status="complete",
                error=None,
                prompt=first.prompt,
                prompt_version=first.prompt_version,
                model=first.model,
                pairs_total=sum(s.summary.pairs_total for s in p.shards),
                repeat=p.shards[0].summary.repeat,
                calls=sum(s.summary.calls for s in p.shards),
                cache_hits=sum(s.summary.cache_hits for s in p.shards),
                retries=sum(s.summary.retries for s in p.shards),
                tally=tally,
                floor_failures=[f.message for f in floors],
                judge_cost_usd=_judge_cost(p),
                gate=gate,
                replayed=sum(s.summary.replayed for s in p.shards),
                judge_replayed=sum(s.summary.judge_replayed for s in p.shards),
                merged_from=[s.run_id for s in p.shards],
            )

        summary = summarize(None)
        gated = None
        if all(_baseline_key(s) is not _UNKNOWN for s in p.shards):
            committed = _baseline(project, p, baseline_ref)
            run = RunData(
                run_id=writer.run_id,
                path=str(writer.path),
                suite=p.suite,
                prompt=first.prompt,
                prompt_version=first.prompt_version,
                model=first.model,
                params=dict(first.params),
                gate=first.gate,
                scorer_hashes=dict(first.scorer_hashes),
                outcomes=outcomes,
                cost_usd=summary.cost_usd,
            )
            gated = gate_mod.evaluate(run, committed)
            summary = summarize(gate_mod.as_dict(gated))
        writer.write_summary(summary)
    finally:
        writer.close()
    return SuiteResult(
        suite=_suite(project, first),
        run_id=writer.run_id,
        run_dir=str(writer.path),
        prompt=first.prompt,
        prompt_version=first.prompt_version,
        model=first.model,
        status="complete",
        summary=summary,
        outcomes=outcomes,
        failing=tally.failing_cases(),
        floor_failures=floors,
        gate=gated,
        replayed=summary.replayed,
        prompt_at=prompt_location(project, first.prompt),
    )


def _judge_cost(p: MergePlan) -> float | None:
    """The shards' judge spend; unknown if any shard's is (never a silent 0)."""
    costs = [s.summary.judge_cost_usd for s in p.shards]
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def _baseline(project: Project, p: MergePlan, ref: str | None) -> Any:
    from promptctl.gate import baseline

    if ref is not None:
        return baseline.read(project, p.suite, ref=ref)
    key = _baseline_key(p.shards[0])
    if key is None:
        return None  # the shards had no baseline: floors only, as they were
    _, commit = key
    return baseline.read(project, p.suite, ref=commit)


def _suite(project: Project, header: runs.RunHeader) -> Suite:
    """The suite of the shards as the reports need it: its file when this checkout has it."""
    from promptctl.evals import suites as suite_files

    name = header.suite
    path = suite_files.suite_files(project).get(name)
    if path is not None:
        try:
            return suite_files.load_suite(project, path)
        except UsageError:
            pass  # a broken suite file does not stop reporting on runs already made
    shown = header.suite_path or name
    return Suite(
        name=name,
        path=shown,
        prompt_ref=header.prompt,
        dataset=None,
        source=Location(shown),
    )
