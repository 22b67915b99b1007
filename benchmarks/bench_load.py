"""`promptctl.load(name, label=..., key=...)` per call, as a service calls it on every request.

Builds a throwaway git project with a label and a rollout in progress, then times load() over
many distinct keys after the first call (the arms are resolved once per process; later calls cost
a stat of labels.yaml, one SHA-256 and two dict look-ups). Target (issue 15): < 5 µs per call.

    python benchmarks/bench_load.py [--calls 200000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "model: mock/echo\ninput:\n  ticket: {type: string}\ntemplate: 'Summarize: {{ ticket }}'\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    args = ap.parse_args()
    os.environ.update(
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    import promptctl
    from promptctl.labels import store
    from promptctl.project import config
    from promptctl.prompts import loader

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git(root, "init", "-q", "-b", "main")
        (root / "prompts").mkdir()
        (root / "prompts/summarize.yaml").write_text(PROMPT)
        git(root, "add", "-A")
        git(root, "commit", "-qm", "v1")
        c1 = git(root, "rev-parse", "HEAD")
        (root / "prompts/summarize.yaml").write_text(PROMPT.replace("Summarize", "Summarise"))
        git(root, "add", "-A")
        git(root, "commit", "-qm", "v2")
        c2 = git(root, "rev-parse", "HEAD")
        project = config.load_project(root)
        v1 = loader.resolve(f"summarize@{c1}", project).version
        v2 = loader.resolve(f"summarize@{c2}", project).version
        entry = store.LabelEntry(
            version=v1,
            commit=c1[:12],
            rollout=store.Rollout(candidate=v2, commit=c2[:12], percent=25.0, salt="b3nch"),
        )
        (root / "labels.yaml").write_text(store.dumps({"summarize": {"production": entry}}))
        keys = [f"user-{i}" for i in range(args.calls)]
        t0 = time.perf_counter()
        first = promptctl.load("summarize", label="production", key="warm-up", root=root)
        first_s = time.perf_counter() - t0
        for k in keys[:20_000]:  # every bucket seen once: the steady state of a service
            promptctl.load("summarize", label="production", key=k, root=root)
        t0 = time.perf_counter()
        candidates = 0
        for k in keys:
            candidates += (
                promptctl.load("summarize", label="production", key=k, root=root).variant
                == "candidate"
            )
        per_call_us = (time.perf_counter() - t0) / len(keys) * 1e6
    print(f"first call (resolves both arms from git): {first_s * 1000:.1f} ms ({first.variant})")
    print(f"per call after the first, over {len(keys):,} keys: {per_call_us:.2f} µs")
    print(f"share on the candidate at 25%: {100 * candidates / len(keys):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
