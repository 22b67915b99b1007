"""Start-up cost of the CLI: median wall time of `promptctl --version`, `--help` and a subcommand's
help against `python -c pass` in the same interpreter, plus the top of `-X importtime`.

Usage: python benchmarks/startup.py [--runs 15]
Target (issue 3): `--version` and `--help` <= 8x bare Python.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CASES = {
    "python -c pass": ["-c", "pass"],
    "promptctl --version": ["-m", "promptctl", "--version"],
    "promptctl --help": ["-m", "promptctl", "--help"],
    "promptctl render --help": ["-m", "promptctl", "render", "--help"],
    "import promptctl": ["-c", "import promptctl"],
}


def median_s(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def importtime(args: list[str], top: int = 12) -> list[tuple[int, str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args], capture_output=True, text=True, check=True
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cumulative, name = line.split(":", 1)[1].split("|")
        rows.append((int(cumulative), name.rstrip()))
    return sorted(rows, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    ns = parser.parse_args()
    bare = median_s(CASES["python -c pass"], ns.runs)
    print(f"{'command':28} {'median ms':>10} {'x bare':>7}")
    for label, args in CASES.items():
        t = bare if label == "python -c pass" else median_s(args, ns.runs)
        print(f"{label:28} {t * 1000:10.1f} {t / bare:7.1f}")
    print("\n-X importtime, top cumulative (us) for `promptctl --help`:")
    for us, name in importtime(["-m", "promptctl", "--help"]):
        print(f"{us:10d}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
