"""Eval throughput and memory against the fake server in its own process (issue 5).

    python benchmarks/bench_eval.py            # both scenarios, a table on stdout
    python benchmarks/bench_eval.py --quick    # smaller sizes, for a smoke run
    python benchmarks/bench_eval.py --cases 100000   # the 100k-case scenario (issue 18)

1. 1000 cases, one regex scorer, `--fresh --concurrency 32`, server latency 50 ms.
   Floor: 1000 / 32 * 0.05 = 1.5625 s. Targets: wall <= 1.3x floor, CPU <= 1.5 s, RSS <= 100 MB.
2. 20,000 cases (`--cases N`), latency 0, `--concurrency 64`: peak RSS <= 150 MB (cases
   stream); at 100,000 cases the targets are RSS <= 200 MB and < 1 ms of CPU per case.
Per-case CPU overhead = the CPU difference between the two runs over the difference in cases.
CPU and peak RSS are the eval process's own (os.wait4), not the server's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KEY = "sk-bench-0000000000000000"


def start_server(latency_s: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--latency", str(latency_s), "--lean"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'src'}"},
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    return proc, url


def make_project(root: Path, url: str, cases: int) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "evals" / "data").mkdir(parents=True)
    (root / "promptctl.yaml").write_text(
        f"providers:\n  fake: {{type: openai, base_url: '{url}/v1', api_key_env: FAKE_API_KEY}}\n"
    )
    (root / "prompts" / "p.yaml").write_text(
        "model: fake/m\ninput:\n  ticket: {type: string}\n"
        "template: 'Route this ticket: {{ ticket }}'\n"
    )
    with open(root / "evals" / "data" / "d.jsonl", "w") as fh:
        for i in range(cases):
            fh.write(
                json.dumps(
                    {
                        "id": f"t-{i:06d}",
                        "vars": {"ticket": f"ticket number {i}"},
                        "expected": "x",
                        "tags": ["bench"],
                    }
                )
                + "\n"
            )
    (root / "evals" / "s.yaml").write_text(
        "prompt: p\ndataset: data/d.jsonl\nscorers:\n  - {id: routed, type: regex, "
        "value: 'ticket number \\d+'}\n"
    )


def _latest(root: Path, name: str) -> Path:
    return max((root / ".promptctl" / "runs").glob(f"*/{name}"), key=lambda p: p.stat().st_mtime)


def run_eval(root: Path, concurrency: int, *args: str) -> dict[str, float]:
    env = {**os.environ, "FAKE_API_KEY": KEY, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promptctl",
            "eval",
            *args,
            "--quiet",
            "--concurrency",
            str(concurrency),
        ],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, _, rusage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = 0  # reaped by wait4
    summary = json.loads(_latest(root, "summary.json").read_text())
    if summary["status"] != "complete":
        errors = [
            json.loads(line).get("error")
            for line in _latest(root, "results.jsonl").read_text().splitlines()
        ]
        raise SystemExit(f"eval did not complete:\n{out}\n{err}\n{[e for e in errors if e][:3]}")
    rss_mb = rusage.ru_maxrss / 1024 if sys.platform != "darwin" else rusage.ru_maxrss / 2**20
    return {
        "wall_s": wall,
        "cpu_s": rusage.ru_utime + rusage.ru_stime,
        "rss_mb": rss_mb,
        "results": summary["pairs_done"],
    }


def scenario(
    cases: int, latency_s: float, concurrency: int, *, baseline: bool = False
) -> dict[str, Any]:
    server, url = start_server(latency_s)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "proj"
            make_project(root, url, cases)
            out: dict[str, Any] = run_eval(root, concurrency, "--fresh")
            if baseline:
                # a baseline of that size written, then a run gated against it
                out["update"] = run_eval(root, concurrency, "--fresh", "--update-baseline")
                size = sum(f.stat().st_size for f in (root / "evals" / "baselines").glob("*.json"))
                out["update"]["baseline_mb"] = size / 2**20
                out["gate"] = run_eval(root, concurrency)
            return out
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 and 2000 cases")
    parser.add_argument("--cases", type=int, help="cases of the big scenario (default 20000)")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="big scenario also writes its baseline (--update-baseline) and gates a run on it",
    )
    args = parser.parse_args()
    small, big = (200, 2000) if args.quick else (1000, 20_000)
    big = args.cases or big
    a = scenario(small, 0.05, 32)
    b = scenario(big, 0.0, 64, baseline=args.baseline)
    floor = small / 32 * 0.05
    per_case_ms = (b["cpu_s"] - a["cpu_s"]) / (big - small) * 1000
    rows = [
        (
            f"{small} cases, 50 ms, c=32",
            a,
            f"wall <= {1.3 * floor:.2f} s (1.3x {floor:.2f}), CPU <= 1.5 s, RSS <= 100 MB",
        ),
        (f"{big} cases, 0 ms, c=64", b, "RSS <= 150 MB" if big <= 20_000 else "RSS <= 200 MB"),
    ]
    print(f"{'scenario':28} {'results':>7} {'wall s':>7} {'CPU s':>6} {'RSS MB':>7}  target")
    for name, r, target in rows:
        print(
            f"{name:28} {int(r['results']):>7} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} "
            f"{r['rss_mb']:>7.1f}  {target}"
        )
    for step in ("update", "gate"):
        if step in b:
            r = b[step]
            name = f"{big} cases, {'--update-baseline' if step == 'update' else 'gated on it'}"
            extra = f"  baseline {r['baseline_mb']:.0f} MB on disk" if "baseline_mb" in r else ""
            print(
                f"{name:28} {int(r['results']):>7} {r['wall_s']:>7.2f} {r['cpu_s']:>6.2f} "
                f"{r['rss_mb']:>7.1f}{extra}"
            )
    print(
        f"per-case CPU overhead: {per_case_ms:.3f} ms (marginal, between the two runs); "
        f"{a['cpu_s'] / small * 1000:.2f} ms average at {small} cases incl. start-up"
    )


if __name__ == "__main__":
    main()
