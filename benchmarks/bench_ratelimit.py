"""Live calls against a provider enforcing 600 requests/minute (issue 18): throughput and 429s.

    python benchmarks/bench_ratelimit.py                  # 300 calls at concurrency 32
    python benchmarks/bench_ratelimit.py --calls 600 --rpm 1200

The fake server runs in its own process and enforces the limit as a one-second bucket (600/min
= 10 requests, refilled continuously), answering 429 + Retry-After beyond it. Two scenarios:
the server sends the OpenAI rate-limit headers (the engine paces from them), and the server
sends none while promptctl.yaml says `rpm:` (the engine paces from that). The calls run in a
child process through the Engine, as bench_calls.py does.

Allowed = the bucket's burst + rate x the calls' wall time (what a perfect client could have
sent in that time); throughput = calls / allowed. 429 share = 429s / requests the server saw.
Targets: throughput >= 95%, 429 share <= 2%.
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

REPO = Path(__file__).resolve().parents[1]


def child(root: str, calls: int, concurrency: int) -> None:
    import asyncio

    from promptctl.engine import Engine, bounded
    from promptctl.model import Request
    from promptctl.project import config

    project = config.load_project(root=Path(root))

    async def main() -> float:
        async with Engine(project, concurrency=concurrency, use_cache=False) as engine:

            async def one(i: int) -> str:
                request = Request(
                    provider="fake",
                    model="bench",
                    messages=({"role": "user", "content": f"case {i}: summarise this ticket"},),
                )
                return (await engine.complete(request)).text

            started = time.perf_counter()
            done = 0
            async for _ in bounded(range(calls), one, concurrency):
                done += 1
            wall = time.perf_counter() - started
            if done != calls:
                raise SystemExit(f"only {done} of {calls} calls: {engine.stats}")
            return wall

    print(json.dumps({"wall_s": asyncio.run(main())}))


def scenario(args: argparse.Namespace, *, headers: bool) -> dict[str, float]:
    argv = [sys.executable, "-m", "tests.fakes.llm_server", "--latency", str(args.latency)]
    argv += ["--rpm", str(args.rpm)] + ([] if headers else ["--no-limit-headers"])
    server = subprocess.Popen(
        argv, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip()  # type: ignore[union-attr]
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            rpm = "" if headers else f", rpm: {args.rpm}"
            (root / "promptctl.yaml").write_text(
                f"providers:\n  fake: {{type: openai, base_url: '{url}/v1', "
                f"api_key_env: FAKE_API_KEY{rpm}}}\n",
                encoding="utf-8",
            )
            env = {**os.environ, "FAKE_API_KEY": "sk-bench-not-a-real-key"}
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    str(root),
                    "--calls",
                    str(args.calls),
                    "--concurrency",
                    str(args.concurrency),
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            wall = json.loads(out.strip().splitlines()[-1])["wall_s"]
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        counts = json.loads(server.stdout.read().strip().splitlines()[-1])  # type: ignore[union-attr]
        server.wait()
    rate = args.rpm / 60
    allowed = rate + rate * wall  # the full one-second bucket at the start, then the refill
    return {
        "wall_s": wall,
        "throughput": args.calls / allowed,
        "requests": counts["requests"],
        "throttled": counts["throttled"],
        "share_429": counts["throttled"] / max(1, counts["requests"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", metavar="ROOT")
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rpm", type=int, default=600)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    if args.child:
        sys.path.insert(0, str(REPO / "src"))
        child(args.child, args.calls, args.concurrency)
        return
    print(
        f"{args.calls} calls at concurrency {args.concurrency}, server enforcing {args.rpm}/min "
        f"(bucket {args.rpm // 60}/s), {args.latency * 1000:.0f} ms latency\n"
    )
    print("| pacing from | wall s | throughput of allowed | requests | 429s | 429 share |")
    print("|---|---:|---:|---:|---:|---:|")
    for headers in (True, False):
        r = scenario(args, headers=headers)
        print(
            f"| {'rate-limit headers' if headers else 'rpm: in promptctl.yaml'} | "
            f"{r['wall_s']:.1f} | {r['throughput']:.1%} | {r['requests']:.0f} | "
            f"{r['throttled']:.0f} | {r['share_429']:.1%} |",
            flush=True,
        )
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
