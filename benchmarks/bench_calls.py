"""1000 calls through the Engine against the fake server at 50 ms latency (issue 4).

    python benchmarks/bench_calls.py                 # concurrency 32 and the default
    python benchmarks/bench_calls.py --sweep 4,8,16,32,64 --calls 500

The fake server runs in its own process (its CPU is not ours). Each measurement is a fresh
child process (start-up and imports included, bytecode cached as in an installed copy) whose
wall time, CPU (user + sys) and peak RSS come from os.wait4. The cache is on (a fresh
.promptctl/ each run): its writes count.
Floor = calls / concurrency x latency. Targets at 32: wall <= 1.3x floor, CPU <= 1.5 s,
RSS <= 100 MB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def child(root: str, calls: int, concurrency: int) -> None:
    import asyncio

    from promptctl.engine import Engine, bounded
    from promptctl.model import Request
    from promptctl.project import config

    project = config.load_project(root=Path(root))

    async def main() -> None:
        async with Engine(project, concurrency=concurrency) as engine:

            async def one(i: int) -> str:
                request = Request(
                    provider="fake",
                    model="bench",
                    messages=({"role": "user", "content": f"case {i}: summarise this ticket"},),
                )
                return (await engine.complete(request)).text

            done = 0
            async for text in bounded(range(calls), one, concurrency):
                assert text.startswith("case ")
                done += 1
            if done != calls or engine.stats.calls != calls:
                raise SystemExit(f"only {done} of {calls} calls: {engine.stats}")

    asyncio.run(main())


def measure(root: Path, calls: int, concurrency: int) -> dict[str, float]:
    shutil.rmtree(root / ".promptctl", ignore_errors=True)
    argv = [
        sys.executable,
        __file__,
        "--child",
        str(root),
        "--calls",
        str(calls),
        "--concurrency",
        str(concurrency),
    ]
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # Bytecode caching on, as in any installed copy (a warm-up run writes the .pyc files).
    proc = subprocess.Popen(argv, env={**env, "FAKE_API_KEY": "sk-bench-not-a-real-key"})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed with exit {proc.returncode}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        # ru_maxrss is KiB on Linux, bytes on macOS
        "rss_mb": usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", metavar="ROOT")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--sweep", help="comma-separated concurrencies (default: 32,default)")
    parser.add_argument("--runs", type=int, default=3, help="runs per setting; best wall shown")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.calls, args.concurrency)
        return

    sys.path.insert(0, str(REPO / "src"))
    from promptctl.engine import DEFAULT_CONCURRENCY

    levels = [int(x) for x in args.sweep.split(",")] if args.sweep else [32, DEFAULT_CONCURRENCY]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_server", "--latency", str(args.latency), "--lean"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "promptctl.yaml").write_text(
                f"providers:\n  fake: {{type: openai, base_url: '{url}/v1', "
                "api_key_env: FAKE_API_KEY}\n",
                encoding="utf-8",
            )
            print(
                f"{args.calls} calls, fake server at {args.latency * 1000:.0f} ms latency, "
                f"best of {args.runs} runs\n"
            )
            measure(root, 10, 1)  # warm-up: compiles and caches bytecode; not reported
            print("| concurrency | floor s | wall s | wall/floor | CPU s | peak RSS MB |")
            print("|---:|---:|---:|---:|---:|---:|")
            for level in levels:
                floor = args.calls / level * args.latency
                runs = [measure(root, args.calls, level) for _ in range(args.runs)]
                best = min(runs, key=lambda r: r["wall_s"])
                tag = " (default)" if level == DEFAULT_CONCURRENCY else ""
                print(
                    f"| {level}{tag} | {floor:.2f} | {best['wall_s']:.2f} | "
                    f"{best['wall_s'] / floor:.2f}x | {best['cpu_s']:.2f} | "
                    f"{best['rss_mb']:.0f} |",
                    flush=True,
                )
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        _, _, usage = os.wait4(server.pid, 0)
        server.returncode = 0
    print(
        f"\nfake server process (not counted above): CPU "
        f"{usage.ru_utime + usage.ru_stime:.2f} s for all runs; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
