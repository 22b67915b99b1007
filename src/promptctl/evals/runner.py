"""Suite -> calls -> scores, streamed and resumable; results land in a run directory as they finish.

One run directory per suite (runs.py). Cases are pulled lazily from the dataset through
`engine.bounded`, so memory holds only what is in flight plus a small tally per case. The core
never prints: progress leaves through the `Progress` protocol the CLI supplies.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import shutil
import signal
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from promptctl.engine.prices import known_sum
from promptctl.errors import (
    AuthError,
    BatchError,
    BatchPendingError,
    IncompleteError,
    Location,
    MissingKeyError,
    PromptctlError,
    RunInterruptedError,
    UsageError,
)
from promptctl.evals import cases, datasets, results, runs
from promptctl.gate.floors import FloorFailure, check_floors
from promptctl.model import PER_CASE_HASH, Case, ScorerOutcome, Suite
from promptctl.project.config import Project
from promptctl.prompts import loader, rendering
from promptctl.prompts.prompt import Prompt

if TYPE_CHECKING:
    from promptctl.gate.baseline import Baseline
    from promptctl.gate.verdict import GateResult


class Progress(Protocol):
    """How a run reports while it works; the CLI supplies a Rich bar or plain lines."""

    def start(self, suite: str, total: int, done: int) -> None: ...

    def advance(self, suite: str, line: runs.ResultLine) -> None: ...

    def finish(self, suite: str) -> None: ...


class _Silent:
    def start(self, suite: str, total: int, done: int) -> None:
        pass

    def advance(self, suite: str, line: runs.ResultLine) -> None:
        pass

    def finish(self, suite: str) -> None:
        pass


SILENT: Progress = _Silent()


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalOptions:
    filter: str | None = None
    shard: tuple[int, int] | None = None
    repeat: int | None = None  # overrides the suite's repeat
    concurrency: int | None = None
    fresh: bool = False
    offline: bool = False
    max_cost_usd: float | None = None
    baseline_ref: str | None = None  # gate against (and replay from) the baseline at this rev
    gate: bool = True  # compare with the committed baseline (issue 6)
    # `eval --model P/M --param k=v`: the suites' prompts run on another model or params, gated
    # against the same baselines ("does the new model keep our quality?", issue 15)
    model: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    case_ids: frozenset[str] | None = None  # only these cases (drift --sample), with --filter
    max_retries: int | None = None  # `--max-retries`: over every provider's own setting
    # `eval --batch`: calls go through the providers' batch APIs (issue 18)
    batch: bool = False
    batch_retry: str = "live"  # live | batch: where a line that errored or expired goes
    no_wait: bool = False  # submit the batches, record them and stop (--resume collects)
    settle: bool = False  # `--settle`: re-sample inconclusive scorers' cases (issue 17 §4)
    settle_budget: int | None = None  # fresh calls --settle may make (default: the eval's)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteResult:
    """One suite's run: what the reporters show and the gate compares (per case and scorer)."""

    suite: Suite
    run_id: str
    run_dir: str
    prompt: str
    prompt_version: str
    model: str
    status: str  # complete | interrupted | incomplete
    summary: runs.Summary  # as written to summary.json
    outcomes: tuple[ScorerOutcome, ...]
    failing: Mapping[str, list[str]] = field(default_factory=dict)  # case id -> reasons
    floor_failures: tuple[FloorFailure, ...] = ()
    error: str | None = None
    gate: GateResult | None = None  # once the run completes (floors included)
    replayed: int = 0  # outputs reused from the baseline instead of calling the model
    fatal: BaseException | None = None  # the error that stopped the run, if one did
    # Where the prompt's messages start (absolute path, line): what annotations point at.
    prompt_at: Location | None = None

    @property
    def exit_code(self) -> int:
        if self.status == "submitted":
            return 0  # --no-wait did what was asked; --resume collects and gates
        if self.status != "complete":
            return 3
        if self.gate is not None:
            return int(self.gate.exit_code)
        return 1 if self.floor_failures else 0


def prompt_anchor(project: Project, prompt: Prompt) -> Location | None:
    """prompt_location without reading the file again when `prompt` was loaded from it."""
    path = loader.prompt_files(project).get(prompt.name)
    first = prompt.messages[0].source if prompt.messages else None
    if path is not None and first is not None and first.path == project.rel(path):
        return Location(str(path), first.line or 1)
    return prompt_location(project, prompt.name)


def prompt_location(project: Project, name: str) -> Location | None:
    """The prompt file of `name` in this checkout and the line its messages start on (line 1
    when it no longer loads: the file is still the place to look); None without a file."""
    path = loader.prompt_files(project).get(name)
    if path is None:
        return None
    line = None
    try:
        prompt = loader.load_prompt_file(project, path)
        first = prompt.messages[0].source if prompt.messages else None
        line = first.line if first is not None else None
    except PromptctlError:
        pass
    return Location(str(path), line or 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalResult:
    suites: tuple[SuiteResult, ...]

    @property
    def exit_code(self) -> int:
        codes = [s.exit_code for s in self.suites]
        return 3 if 3 in codes else max(codes, default=0)

    def warnings(self) -> list[str]:
        """What a user must hear even when the exit code is 0: each inconclusive scorer (with
        what would settle it) and each suite that did not complete (with how to resume)."""
        from promptctl.gate.verdict import describe

        out = []
        for s in self.suites:
            if s.gate is not None and s.gate.verdict.value == "inconclusive":
                out += [
                    f"warning: {s.suite.name}: {sg.scorer_id} inconclusive: "
                    f"{describe(sg, s.gate.gate)}"
                    for sg in s.gate.scorers
                    if sg.verdict.value == "inconclusive"
                ]
            if s.status != "complete":
                out.append(
                    f"{s.suite.name}: incomplete: {s.error}\n"
                    f"  hint: promptctl eval --resume {s.run_id}"
                )
        return out


# ----------------------------------------------------------------------------- preparation


@dataclass(slots=True)
class _Plan:
    suite: Suite
    prompt: Prompt
    repeat: int
    selector: datasets.Selector | _Only
    total_pairs: int
    cases: int
    baseline: Baseline | None = None  # read before any call: a damaged one stops here
    case_scorers: tuple[str, ...] = ()  # ids only dataset rows' `assert:` use (every row)


# In batch mode every pair of a suite is in flight at once (waiting on its batch line), up to
# this many: a batch holds at most 50,000 (OpenAI) lines anyway.
BATCH_WAVE = 50_000


def resolve_prompt(project: Project, suite: Suite) -> Prompt:
    try:
        return loader.resolve(suite.prompt_ref, project)
    except UsageError as e:
        if e.where is None:
            e.where = suite.source
        raise


class _Only:
    """A selector narrowed to a set of case ids (drift's sample)."""

    def __init__(self, inner: datasets.Selector, ids: frozenset[str]) -> None:
        self.inner, self.ids = inner, ids

    def __call__(self, case: Case) -> bool:
        return case.id in self.ids and self.inner(case)


def swap_model(project: Project, prompt: Prompt, options: EvalOptions) -> Prompt:
    """The prompt with --model / --param applied, and the version that content hashes to."""
    if options.model is None and not options.params:
        return prompt
    model = options.model or prompt.model
    provider, sep, model_id = model.partition("/")
    if not sep or not provider or not model_id:
        raise UsageError(
            f"--model {model!r} must be <provider>/<model id>", hint="e.g. openai/gpt-4.1"
        )
    if loader.provider_type(project, provider) is None:
        raise UsageError(
            f"--model {model!r}: unknown provider {provider!r}",
            hint="providers: " + ", ".join(project.provider_names()),
        )
    swapped = replace(prompt, model=model, params={**prompt.params, **options.params})
    return replace(swapped, version=loader.version_of(swapped))


def plan(project: Project, suite: Suite, options: EvalOptions) -> _Plan:
    """Validate every selected case before any call: bad rows, duplicate ids, missing vars."""
    prompt = swap_model(project, resolve_prompt(project, suite), options)
    selector = datasets.Selector(options.filter, options.shard)
    if options.case_ids is not None:
        selector = _Only(selector, options.case_ids)
    repeat = options.repeat or suite.repeat
    # A shard may draw no case of a small suite: that is an empty shard run (merge expects
    # every shard), not an error, as long as the suite and filter select cases at all.
    unsharded = datasets.Selector(options.filter) if options.shard else None
    filtered = 0
    seen: set[str] = set()
    count = 0
    suite_ids = {s.id for s in suite.scorers}
    case_scorers: set[str] = set()
    for case in datasets.iter_cases(project, suite):
        if case.id in seen:
            raise UsageError(
                f"duplicate case id {case.id!r}",
                where=case.source,
                hint="case ids must be unique within a suite",
            )
        seen.add(case.id)
        check_case_scorers(case, suite_ids)
        # Every row's ids, selected or not: shards of one suite must record the same scorers.
        case_scorers.update(s.id for s in case.asserts)
        filtered += 1 if unsharded is not None and unsharded(case) else 0
        if not selector(case):
            continue
        variables = with_canary(suite, case.vars, CHECK_TOKEN)
        values = rendering.apply_defaults(prompt, variables)
        try:
            rendering.check_case_variables(prompt, values)
        except UsageError as e:
            # what is missing or mistyped is in the dataset row, not in the prompt (lint: PC204)
            declared = prompt.input_source or prompt.source
            hint = (
                f"set it in the case's vars (the prompt declares its input at {declared})"
                if e.message.startswith("missing variable")
                else e.hint
            )
            raise UsageError(
                f"case {case.id}: {e.message}", where=case.source or e.where, hint=hint
            ) from None
        try:
            if count == 0:
                # A template typo must stop here (exit 2, no run directory), not fail every
                # case of a run that --resume could never finish. Upstream replies are not
                # known yet: they read as "" for this check.
                # The check above has just validated these values; a chain's prompt checks
                # again, as render_messages checks its values without their `uses` key.
                rendering.render_messages(
                    prompt, variables, replies=cases.stub_replies(prompt), check=bool(prompt.uses)
                )
        except UsageError as e:
            raise UsageError(
                f"case {case.id}: {e.message}", where=e.where or case.source, hint=e.hint
            ) from None
        count += 1
    if count == 0 and not filtered:
        what = "the filter matches no case" if options.filter or options.shard else "no cases"
        raise UsageError(
            f"suite {suite.name!r}: {what}",
            where=suite.source,
            hint="check --filter/--shard, or add cases to the dataset",
        )
    from promptctl.gate import baseline

    committed = (
        baseline.read(project, suite.name, ref=options.baseline_ref) if options.gate else None
    )
    pairs = count * repeat
    return _Plan(
        suite, prompt, repeat, selector, pairs, count, committed, tuple(sorted(case_scorers))
    )


# Stands in for the run's token while cases are checked (not a secret: a placeholder).
CHECK_TOKEN = "CANARY-0000000000000000"  # noqa: S105


def new_canary() -> str:
    """A fresh token per run (docs/safety.md): a reply can only contain it by leaking it."""
    return f"CANARY-{secrets.token_hex(8)}"


def with_canary(suite: Suite, variables: Mapping[str, Any], token: str | None) -> Mapping[str, Any]:
    """The case's vars plus the suite's canary variable set to the run's token."""
    if suite.canary is None or token is None:
        return variables
    return {**variables, suite.canary: token}


def check_case_scorers(case: Case, suite_ids: set[str]) -> None:
    """A row's own scorer may not reuse a suite scorer's id: the gate pairs by case and id."""
    for spec in case.asserts:
        if spec.id in suite_ids:
            raise UsageError(
                f"case {case.id}: assert id {spec.id!r} is also a scorer of the suite",
                where=case.source,
                hint="give the row's scorer its own `id:` (the gate pairs results by id)",
            )


def _header(plan: _Plan, options: EvalOptions, invocation: str) -> runs.RunHeader:
    suite, prompt = plan.suite, plan.prompt
    return runs.RunHeader(
        run_id=runs.new_run_id(suite.name),
        suite=suite.name,
        suite_path=suite.path,
        prompt=prompt.name,
        prompt_version=prompt.version,
        model=prompt.model,
        params=dict(prompt.params),
        scorer_hashes={
            **dict.fromkeys(plan.case_scorers, PER_CASE_HASH),
            **{s.id: s.hash for s in suite.scorers},
        },
        gate=suite.gate,
        gate_hash=suite.gate.hash,
        uses={u.alias: f"{prompt.upstreams[u.alias].name}@{u.version}" for u in prompt.uses},
        repeat=plan.repeat,
        canary=new_canary() if suite.canary else None,
        cases=plan.cases,
        pairs=plan.total_pairs,
        filter=options.filter,
        shard=f"{options.shard[0]}/{options.shard[1]}" if options.shard else None,
        fresh=options.fresh,
        invocation=invocation,
        started_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    )


def case_pairs(
    project: Project, plan: _Plan, done: set[tuple[str, int]]
) -> Iterator[tuple[Case, int]]:
    for case in datasets.iter_cases(project, plan.suite):
        if not plan.selector(case):
            continue
        for r in range(plan.repeat):
            if (case.id, r) not in done:
                yield case, r


# ----------------------------------------------------------------------------- running


class _Interrupt:
    """SIGINT once: stop scheduling, let calls in flight finish. Twice: cancel them."""

    def __init__(self) -> None:
        self.requested = False
        self.engine: Any = None
        self.task: asyncio.Task[Any] | None = None

    def __call__(self) -> None:
        if self.requested and self.task is not None:
            self.task.cancel()
            return
        self.requested = True
        if self.engine is not None:
            self.engine.stop("interrupted")
            if self.engine.batch is not None and self.task is not None:
                # Calls in flight wait on provider batches that are recorded in the run: stop
                # waiting now; --resume re-attaches to them (issue 18).
                self.task.cancel()


def _submitted_batches(path: Path) -> bool:
    from promptctl.engine.batch import BATCHES_FILE

    return (path / BATCHES_FILE).is_file()


def _batch_session(path: Path, options: EvalOptions) -> Any:
    # imported for `--batch` only: a live run does not load batch.py (~3 ms)
    from promptctl.engine.batch import BatchSession

    return BatchSession(path, retry=options.batch_retry, no_wait=options.no_wait)


async def _run_suite(
    project: Project,
    plan: _Plan,
    options: EvalOptions,
    progress: Progress,
    interrupt: _Interrupt,
    writer: runs.RunWriter,
) -> SuiteResult:
    from promptctl import scorers as registry
    from promptctl.engine import Engine, bounded

    suite, prompt = plan.suite, plan.prompt
    header = runs.read_header(writer.path)
    tally = results.Tally(header.scorer_hashes)
    done: set[tuple[str, int]] = set()
    problems: list[str] = []
    for key, line in runs.latest_lines(writer.path, problems).items():
        if line.error:
            continue  # a call that failed is asked again on resume
        done.add(key)
        tally.add(line)
    if problems:
        import warnings

        from promptctl.errors import PromptctlWarning

        for problem in problems[:5]:
            warnings.warn(
                PromptctlWarning(f"{problem}: skipped, its pair runs again"), stacklevel=2
            )
        if len(problems) > 5:
            warnings.warn(PromptctlWarning(f"... and {len(problems) - 5} more"), stacklevel=2)
    if options.fresh and not header.fresh:
        # `--resume --fresh` of a run that was not fresh: fresh from here on, so a later plain
        # `--resume` (the hint printed on Ctrl-C) does not go back to the cache and replay.
        header = replace(header, fresh=True)
        runs.rewrite_header(writer.path, header)
    # The summary a previous session of this run wrote (Ctrl-C, an error): its counters are
    # added to this session's, so summary.json always speaks for the whole run. Each session's
    # summary already includes the sessions before it, so a run resumed twice adds up too.
    previous = runs.read_summary(writer.path)
    prior_judge_cost = (previous.judge_cost_usd or 0.0) if previous else 0.0
    prior = previous or runs.Summary(run_id=writer.run_id, suite=suite.name, status="")  # zeros
    new_cost = 0.0
    budget = min(
        (b for b in (options.max_cost_usd, suite.gate.max_cost_usd) if b is not None), default=None
    )
    fatal: list[BaseException] = []
    async with Engine(
        project,
        concurrency=options.concurrency,
        use_cache=not options.fresh,
        offline=options.offline,
        max_cost_usd=budget,
        max_retries=options.max_retries,
        batch=_batch_session(writer.path, options) if options.batch else None,
    ) as engine:
        interrupt.engine = engine
        # Replay (issue 6): a request identical to one the baseline recorded reuses its output;
        # judge calls go through the same door, and are logged so the baseline can record them.
        from promptctl.evals.replay import ReplayingEngine
        from promptctl.gate import baseline as baseline_mod

        replay = {} if options.fresh else baseline_mod.replay_index(plan.baseline)
        replayed = [0]
        token = header.canary if suite.canary else None  # the same token on --resume
        planted = (suite.canary, str(token)) if suite.canary and token else None
        ctx = registry.ScorerContext(
            engine=ReplayingEngine(engine, replay),
            prompt=prompt,
            judge_model=project.config.defaults.judge_model,
            partials_dir=prompt.partials_dir,
            project=project,
            extra={"canary": token} if token else {},
        )
        scorers = [(spec.id, registry.build(spec, ctx)) for spec in suite.scorers]
        built: dict[tuple[str, str], Any] = {}  # a row's scorer, built once per distinct config

        def case_scorers(case: Case) -> list[tuple[str, Any]]:
            if not case.asserts:
                return scorers
            out = list(scorers)
            for spec in case.asserts:
                key = (spec.id, spec.hash)
                if key not in built:
                    built[key] = registry.build(spec, ctx)
                out.append((spec.id, built[key]))
            return out

        noted: set[BaseException] = set()

        async def work(item: tuple[Case, int]) -> runs.ResultLine | None:
            case, repeat = item
            try:
                return await cases.run_case(
                    engine, prompt, case_scorers(case), suite.name, case, repeat, replay, planted
                )
            except PromptctlError as e:
                # A missing or refused key, or a batch failing as a whole, is about the project
                # or the provider, not this case; and every pair waiting on one batch receives
                # the same exception, which must be named after a case once at most.
                if not isinstance(e, MissingKeyError | AuthError | BatchError) and e not in noted:
                    noted.add(e)
                    if e.where is None:
                        e.where = case.source
                    e.message = f"case {case.id} (repeat {repeat}): {e.message}"
                fatal.append(e)
                engine.stop("error")
                return None

        progress.start(suite.name, plan.total_pairs, len(done))
        try:
            async for record in bounded(
                case_pairs(project, plan, done),
                work,
                BATCH_WAVE if options.batch else engine.concurrency,
                stop=lambda: interrupt.requested or bool(fatal),
            ):
                if record is None:
                    continue
                writer.append(record)
                tally.add(record)
                if not record.cached:
                    new_cost += record.cost_usd or 0.0
                replayed[0] += 1 if record.replayed else 0
                progress.advance(suite.name, record)
        except asyncio.CancelledError:
            interrupt.requested = True  # a second Ctrl-C: calls in flight were cancelled
        finally:
            progress.finish(suite.name)
        stats = engine.stats
        judge_replayed = ctx.engine.replayed  # judge replies the baseline answered
    status = "complete"
    error: str | None = None
    if fatal and isinstance(fatal[0], BatchPendingError):
        status, error = "submitted", "batches submitted (--no-wait): --resume collects them"
    elif interrupt.requested:
        status, error = "interrupted", "interrupted"
    elif fatal:
        status, error = "incomplete", str(fatal[0])
    elif tally.call_errors:
        # say what happened: a 3xx or a spent quota was never retried (issue 20)
        first = f": {tally.first_call_error}" if tally.first_call_error else ""
        status, error = "incomplete", f"{tally.call_errors} call(s) failed{first}"
    if status == "complete" and tally.pairs < plan.total_pairs:
        status, error = "incomplete", f"{plan.total_pairs - tally.pairs} pair(s) not run"
    outcomes = tuple(tally.outcomes())
    floors = tuple(check_floors(suite.gate, outcomes)) if status == "complete" else ()
    # The engine's spend covers judge calls too; lines carry only the candidate's cost.
    # None: some model has no known price (never a silent 0).
    judge_cost = None if stats.cost_usd is None else max(0.0, stats.cost_usd - new_cost)

    def summarize(gate: Mapping[str, Any] | None) -> runs.Summary:
        return results.build_summary(
            run_id=writer.run_id,
            suite=suite.name,
            status=status,
            error=error,
            prompt=prompt.name,
            prompt_version=prompt.version,
            model=prompt.model,
            pairs_total=plan.total_pairs,
            repeat=plan.repeat,
            calls=stats.calls + prior.calls,
            cache_hits=stats.cache_hits + prior.cache_hits,
            retries=stats.retries + prior.retries,
            batch_calls=stats.batch_calls + prior.batch_calls,
            batch_saved_usd=known_sum(stats.batch_saved_usd, prior.batch_saved_usd),
            tally=tally,
            floor_failures=[f.message for f in floors],
            judge_cost_usd=None if judge_cost is None else judge_cost + prior_judge_cost,
            gate=gate,
            replayed=replayed[0] + prior.replayed,
            judge_replayed=judge_replayed + prior.judge_replayed,
        )

    summary = summarize(None)
    gated = (
        _gate(plan, header, writer, outcomes, summary, options) if status == "complete" else None
    )
    if gated is not None:
        from promptctl.gate import verdict as gate_mod

        summary = summarize(gate_mod.as_dict(gated))
    writer.write_summary(summary)
    return SuiteResult(
        suite=suite,
        run_id=writer.run_id,
        run_dir=str(writer.path),
        prompt=prompt.name,
        prompt_version=prompt.version,
        model=prompt.model,
        status=status,
        summary=summary,
        outcomes=outcomes,
        failing=tally.failing_cases(),
        floor_failures=floors,
        error=error,
        gate=gated,
        replayed=summary.replayed,  # the whole run's, as in summary.json (merge does the same)
        fatal=fatal[0] if fatal else None,
        prompt_at=prompt_anchor(project, prompt),
    )


def _gate(
    plan: _Plan,
    header: runs.RunHeader,
    writer: runs.RunWriter,
    outcomes: tuple[ScorerOutcome, ...],
    summary: runs.Summary,
    options: EvalOptions,
) -> GateResult | None:
    """The gate's verdict on a complete run (issue 6); floors only without a baseline."""
    if not options.gate:
        return None
    from promptctl.gate import verdict as gate_mod
    from promptctl.model import RunData

    suite, prompt = plan.suite, plan.prompt
    run = RunData(
        run_id=writer.run_id,
        path=str(writer.path),
        suite=suite.name,
        prompt=prompt.name,
        prompt_version=prompt.version,
        model=prompt.model,
        params=dict(prompt.params),
        gate=suite.gate,
        scorer_hashes=dict(header.scorer_hashes),
        outcomes=outcomes,
        cost_usd=summary.cost_usd,
        shard=header.shard,
        uses=dict(header.uses),
    )
    return gate_mod.evaluate(run, plan.baseline)


# ----------------------------------------------------------------------------- entry points


def run_eval(
    project: Project,
    suites: list[Suite],
    options: EvalOptions,
    progress: Progress = SILENT,
    *,
    resume: list[Path] | None = None,
) -> EvalResult:
    """Run `suites` (or resume the runs in `resume`), one run directory per suite.

    Raises:
        UsageError: a bad suite or dataset, or zero cases selected (before any call).
        RunInterruptedError: Ctrl-C; partial results and summary are on disk.
        IncompleteError: budget, auth or --offline stopped the run (partial results kept).
    """
    if options.settle and options.offline:
        raise UsageError(
            "--settle makes fresh calls to the model; it cannot be combined with --offline",
            hint="drop --offline, or drop --settle and read the inconclusive verdict's advice",
        )
    if options.settle_budget is not None and options.settle_budget <= 0:
        raise UsageError(
            f"--settle-budget must be a positive number of calls, not {options.settle_budget}",
            hint="e.g. --settle-budget 200 (default: as many calls as the eval itself made)",
        )
    invocation = (
        dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + f"-{secrets.token_hex(2)}"
    )
    jobs: list[tuple[_Plan, EvalOptions, Path | None]] = []
    if resume:
        for path in resume:
            header = runs.read_header(path)
            suite = _suite_for(project, header)
            shard = datasets.parse_shard(header.shard)
            opts = EvalOptions(
                filter=header.filter,
                shard=shard,
                repeat=header.repeat,
                concurrency=options.concurrency,
                # A fresh run stays fresh when resumed (--resume alone is the printed hint);
                # `--resume --fresh` makes a run fresh from then on (_run_suite records it).
                fresh=options.fresh or header.fresh,
                offline=options.offline,
                max_cost_usd=options.max_cost_usd,
                baseline_ref=options.baseline_ref,
                gate=options.gate,
                max_retries=options.max_retries,
                # A run that submitted batches goes on in batch mode: its calls are collected
                # from those batches (at their price), never asked again live.
                batch=options.batch or _submitted_batches(path),
                batch_retry=options.batch_retry,
                no_wait=options.no_wait,
            )
            p = plan(project, suite, opts)
            if p.prompt.version != header.prompt_version:
                raise UsageError(
                    f"run {path.name}: prompt {p.prompt.name} changed since the run "
                    f"({header.prompt_version} -> {p.prompt.version})",
                    hint="start a new run: promptctl eval " + suite.name,
                )
            jobs.append((p, opts, path))
    else:
        jobs = [(plan(project, s, options), options, None) for s in suites]
    result = decide(asyncio.run(_run_all(project, jobs, progress, invocation)))
    if options.settle:
        from promptctl.evals import settling

        result = settling.settle_eval(
            project,
            result,
            [p for p, _, _ in jobs],
            options.settle_budget,
            max_cost_usd=options.max_cost_usd,
        )
    return result


def decide(result: EvalResult) -> EvalResult:
    """One eval, one decision (issue 17 §1): the gates of every complete suite are corrected
    together (gate.verdict.decide), and each run's summary.json records the final verdict."""
    from promptctl.gate import verdict as gate_mod

    gated = [i for i, s in enumerate(result.suites) if s.gate is not None]
    if not gated:
        return result
    decided = gate_mod.decide([result.suites[i].gate for i in gated])
    suites = list(result.suites)
    for i, g in zip(gated, decided, strict=True):
        s = suites[i]
        if g == s.gate:
            continue
        summary = replace(s.summary, gate=gate_mod.as_dict(g))
        runs.rewrite_summary(Path(s.run_dir), summary)
        suites[i] = replace(s, gate=g, summary=summary)
    return replace(result, suites=tuple(suites))


def _suite_for(project: Project, header: runs.RunHeader) -> Suite:
    from promptctl.evals import suites as suite_files

    path = Path(header.suite_path)
    if not header.suite_path or not path.is_file():
        found = suite_files.suite_files(project).get(header.suite)
        if found is None:
            raise UsageError(f"the suite {header.suite!r} of this run no longer exists")
        path = found
    return suite_files.load_suite(project, path)


async def _run_all(
    project: Project,
    jobs: list[tuple[_Plan, EvalOptions, Path | None]],
    progress: Progress,
    invocation: str,
) -> EvalResult:
    loop = asyncio.get_running_loop()
    interrupt = _Interrupt()
    interrupt.task = asyncio.current_task()
    try:
        loop.add_signal_handler(signal.SIGINT, interrupt)
        # CI cancels with SIGTERM (GitHub Actions: SIGINT, then SIGTERM, then SIGKILL): the
        # same orderly stop, so the summary is written and --resume knows the run (issue 9).
        loop.add_signal_handler(signal.SIGTERM, interrupt)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not the main thread
        installed = False
    results: list[SuiteResult] = []
    try:
        # Every suite's run directory exists before the first call: a Ctrl-C during the first
        # suite leaves the later ones unfinished too, and a bare `--resume` runs them all.
        paths: list[Path] = []
        resume_dirs = [resume_dir for _, _, resume_dir in jobs]
        for p, opts, resume_dir in jobs:
            if resume_dir is None:
                created = runs.RunWriter.create(project, _header(p, opts, invocation))
                created.close()
                resume_dir = created.path
            paths.append(resume_dir)
        for (p, opts, _), path in zip(jobs, paths, strict=True):
            if interrupt.requested:
                break
            writer = runs.RunWriter(path, root=project.root)
            try:
                result = await _run_suite(project, p, opts, progress, interrupt, writer)
            finally:
                writer.close()
            results.append(result)
            if result.status == "interrupted":
                later = len(paths) - len(results)
                raise RunInterruptedError(
                    f"interrupted: {result.summary.pairs_done}/{p.total_pairs} results of "
                    f"suite {p.suite.name} are saved in run {result.run_id}"
                    + (f"; {later} more suite(s) not started" if later else ""),
                    hint=f"promptctl eval --resume {result.run_id}"
                    if not later
                    else "promptctl eval --resume (continues every unfinished suite of this eval)",
                )
            if isinstance(result.fatal, UsageError):
                # Missing key, a case that does not render: the input is wrong, not the
                # provider (exit 2). A run that holds nothing is not left to --resume.
                if not result.summary.pairs_done and resume_dirs[len(results) - 1] is None:
                    for empty, (_, _, was) in zip(paths, jobs, strict=True):
                        if was is None and not runs.latest_lines(empty):
                            shutil.rmtree(empty, ignore_errors=True)
                raise result.fatal
            if result.status == "incomplete" and result.error and result.summary.call_errors == 0:
                raise IncompleteError(
                    f"{result.error}; {result.summary.pairs_done}/{p.total_pairs} results "
                    f"saved in run {result.run_id}",
                    hint=f"fix the cause, then: promptctl eval --resume {result.run_id}",
                )
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
    return EvalResult(suites=tuple(results))
