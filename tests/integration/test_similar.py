"""`similar`: embeddings through the fake server's /v1/embeddings (cached, then replayed), the
mock's offline vectors, WordLlama from the `similar` extra, and exit 2 naming the extra."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from promptctl import scorers
from promptctl.scorers import similar
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import fake_embedding, write_config

PROMPT = "model: mock/echo\ninput: {q: {type: string}}\ntemplate: '{{ q }}'\n"
CASES = (
    "[{id: near, vars: {q: the cat sat on the mat}, expected: the cat sat on a mat},\n"
    " {id: far, vars: {q: quarterly revenue grew fast}, expected: the cat sat on a mat}]"
)


def suite(project: Any, options: str) -> None:
    project.write("prompts/p.yaml", PROMPT)
    project.write(
        "evals/s.yaml",
        f"prompt: p\ncases: {CASES}\nscorers: [{{id: sim, type: similar{options}}}]\n",
    )


def scores(project: Any) -> dict[str, dict[str, Any]]:
    run = sorted((project.root / ".promptctl" / "runs").iterdir())[-1]
    lines = (run / "results.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["case_id"]: r["scores"]["sim"] for r in map(json.loads, lines)}


def test_embeddings_endpoint_scores_then_the_cache_answers(
    project: Any, llm_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(project.root, llm_server)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    suite(project, ", model: fake/embed-1, threshold: 0.6")
    assert project.run("eval", "--concurrency", "1").code == 0
    got = scores(project)
    near = similar.cosine(
        fake_embedding("the cat sat on the mat"), fake_embedding("the cat sat on a mat")
    )
    assert got["near"]["score"] == pytest.approx(near)
    assert got["near"]["passed"] is True and got["far"]["passed"] is False
    posts = [r for r in llm_server.requests if r.path == "/v1/embeddings"]
    assert len(posts) == 3  # two outputs and the expected text they share (cached once)
    assert {"model": "embed-1", "input": "the cat sat on a mat"} in [p.body for p in posts]
    assert project.run("eval").code == 0
    assert len([r for r in llm_server.requests if r.path == "/v1/embeddings"]) == 3  # cached
    assert scores(project)["near"]["score"] == pytest.approx(near)


def test_the_mock_embeds_offline(project: Any) -> None:
    project.write("promptctl.yaml", "{}\n")
    suite(project, ", model: mock/embed")
    assert project.run("eval", "--offline").code == 0
    got = scores(project)
    assert got["near"]["passed"] is True and got["far"]["passed"] is False


def test_no_model_and_no_extra_is_exit_2_naming_the_extra(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("promptctl.yaml", "{}\n")
    suite(project, "")
    monkeypatch.setitem(sys.modules, "wordllama", None)  # as if the extra were not installed
    similar.offline_model.cache_clear()
    try:
        r = project.run("eval")
    finally:
        similar.offline_model.cache_clear()
    assert r.code == 2
    assert "the `similar` extra is not installed" in r.err
    assert "pip install 'promptctl-cli[similar]'" in r.err and "evals/s.yaml:" in r.err


def test_anthropic_has_no_embeddings_endpoint(
    project: Any, llm_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(project.root, llm_server)
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", FAKE_KEY)
    suite(project, ", model: fake-anthropic/x")
    r = project.run("eval")
    assert r.code == 0  # the scorer errs on each case; the run goes on
    assert "no embeddings endpoint" in scores(project)["near"]["error"]


def test_static_checks() -> None:
    from promptctl.model import ScorerSpec

    bad = ScorerSpec(id="s", type="similar", options={"threshold": 3})
    assert scorers.check_spec(bad)[0][1].startswith("similar `threshold` must be")
    assert similar.cosine([1, 0], [1, 0]) == 1.0 and similar.cosine([1, 0], [0, 1]) == 0.0


def test_wordllama_from_the_extra_loads_offline_and_scores(project: Any) -> None:
    # Runs where the `similar` extra is installed (`pip install -e '.[similar]'`).
    pytest.importorskip("wordllama")
    project.write("promptctl.yaml", "{}\n")
    suite(project, "")
    assert project.run("eval", "--offline").code == 0
    got = scores(project)
    assert got["near"]["passed"] is True and got["far"]["passed"] is False
    assert got["near"]["score"] > 0.75 > got["far"]["score"]


def test_embeddings_are_recorded_in_the_baseline_and_replayed(
    project: Any, llm_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(project.root, llm_server)
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    suite(project, ", model: fake/embed-1, threshold: 0.6")
    assert project.run("eval", "--concurrency", "1").code == 0
    assert project.run("baseline", "update", "s").code == 0
    caches = list((project.root / ".promptctl").glob("cache.db*"))
    assert caches
    for cache in caches:
        cache.unlink()  # no local cache: only the baseline can answer
    before = len(llm_server.requests)
    assert project.run("eval").code == 0
    assert len(llm_server.requests) == before  # chat and embedding calls replayed
    assert scores(project)["near"]["passed"] is True


def test_lint_says_what_eval_would_without_a_model_or_the_extra(
    project: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("promptctl.yaml", "{}\n")
    suite(project, "")
    monkeypatch.setitem(sys.modules, "wordllama", None)  # find_spec() then answers None
    r = project.run("lint")
    assert r.code == 1
    assert "PC215" in r.out and "pip install 'promptctl-cli[similar]'" in r.out
