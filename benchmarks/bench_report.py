"""The HTML report of 1000 cases x 3 scorers: render time and size (issue 16: < 2 s, < 10 MB).

    python benchmarks/bench_report.py              # 1000 cases, ~70-word replies
    python benchmarks/bench_report.py --words 300 --vocab small   # the word diff's worst case

Replies draw words from a 2000-word vocabulary with Zipf frequencies (like prose), or with
--vocab small from 30 words, where every word repeats and difflib's matching is slowest.
Builds an offline project (mock/echo) in a temp git repo, records a baseline, changes the
prompt so every reply differs from the baseline's (every case gets a word diff), runs the eval,
then times `promptctl report RUN -o FILE` in a fresh process (start-up and imports included)
and, in-process, the review and the render alone (best of 3).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCE = (
    "the customer reports that invoice payment failed twice after the update and asks for "
    "a refund while the app keeps crashing on login with an error about the session token"
)
WORDS = SENTENCE.split()
ZIPF = [*dict.fromkeys(WORDS), *(f"word{i}" for i in range(2000))]

OLD = 'model: mock/echo\ninput: {q: {type: string}}\ntemplate: "Answer: {{ q }}"\n'
NEW = (
    "model: mock/echo\ninput: {q: {type: string}}\n"
    "template: \"Reply: {{ q|replace(' the ', ' a ')|replace('failed', 'broke') }} Done.\"\n"
)
SUITE = """\
prompt: qa
dataset: data/qa.jsonl
scorers:
  - {id: says-it, type: icontains, value: "{{ expected }}"}
  - {id: starts, type: regex, value: '^Answer:'}
  - {id: mentions-refund, type: contains, value: refund}
"""


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def promptctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promptctl", *args], cwd=root, capture_output=True, text=True
    )


def build(root: Path, cases: int, words: int, vocab: str) -> str:
    rng = random.Random(16)
    pool = WORDS if vocab == "small" else ZIPF
    weights = [1.0] * len(pool) if vocab == "small" else [1 / (i + 1) for i in range(len(pool))]
    (root / "prompts").mkdir(parents=True)
    (root / "evals" / "data").mkdir(parents=True)
    (root / ".gitignore").write_text(".promptctl/\n")
    (root / "promptctl.yaml").write_text("{}\n")
    (root / "prompts" / "qa.yaml").write_text(OLD)
    (root / "evals" / "qa.yaml").write_text(SUITE)
    with open(root / "evals" / "data" / "qa.jsonl", "w") as fh:
        for i in range(cases):
            q = " ".join(rng.choices(pool, weights, k=words))
            row = {"id": f"c-{i:05d}", "vars": {"q": q}, "expected": q.split()[0]}
            fh.write(json.dumps({**row, "tags": [f"t{i % 7}"]}) + "\n")
    env = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    os.environ.update(env)
    for who in ("AUTHOR", "COMMITTER"):
        os.environ[f"GIT_{who}_NAME"], os.environ[f"GIT_{who}_EMAIL"] = "b", "b@example.invalid"
    git(root, "init", "-q", "-b", "main")
    done = promptctl(root, "eval", "--update-baseline", "-q")
    assert done.returncode == 0, done.stderr
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "baseline")
    (root / "prompts" / "qa.yaml").write_text(NEW)
    done = promptctl(root, "eval", "-q")
    assert done.returncode in (0, 1), done.stderr
    return done.stdout.split(" run ")[-1].split()[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--words", type=int, default=70)
    parser.add_argument("--vocab", choices=["zipf", "small"], default="zipf")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_id = build(root, args.cases, args.words, args.vocab)
        start = time.perf_counter()
        done = promptctl(root, "report", run_id, "-o", "report.html")
        wall = time.perf_counter() - start
        assert done.returncode == 0, done.stderr
        size = (root / "report.html").stat().st_size

        os.chdir(root)
        from promptctl.evals import review, runs
        from promptctl.project import config
        from promptctl.reporters import html

        project = config.load_project()
        path = runs.find_run(project, run_id)
        best_review = best_render = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            reviewed = review.review_run(project, path)
            t1 = time.perf_counter()
            text = html.render_html([reviewed])
            t2 = time.perf_counter()
            best_review, best_render = min(best_review, t1 - t0), min(best_render, t2 - t1)
        again = html.render_html([review.review_run(project, path)])
        print(
            f"cases {args.cases} x 3 scorers, ~{args.words}-word replies ({args.vocab} vocabulary)"
        )
        print(f"promptctl report (fresh process): {wall:.2f} s   target < 2 s")
        print(f"  review (runs, baseline, dataset, inputs): {best_review:.2f} s")
        print(f"  render (word diffs, JSON, Jinja2):        {best_render:.2f} s")
        print(f"size: {size / 1e6:.2f} MB   target < 10 MB")
        print(f"deterministic: {again == text}")


if __name__ == "__main__":
    main()
