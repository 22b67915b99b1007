"""`eval --model` / `--param`: the suites on another model, gated against the same baselines."""

from __future__ import annotations

from tests.integration.test_git_history import PROMPT, seed

CONFIG = """\
providers:
  mock:
    type: mock
    replies: replies.yaml
"""
# mock/shout answers in its own style: the suite's starts-with scorer fails on it
REPLIES = """\
- {model: shout, match: ".", reply: "SUMMARY!"}
"""


def _project(p):
    p.write("promptctl.yaml", CONFIG, dedent=False)
    p.write("replies.yaml", REPLIES, dedent=False)
    seed(p)
    r = p.run("eval", "--update-baseline")
    assert r.code == 0, r.err
    p.commit("baseline")


def test_a_model_that_keeps_quality_passes_against_the_baselines(git_project):
    p = git_project
    _project(p)
    r = p.run("eval", "--model", "mock/echo-2")
    assert r.code == 0, r.out + r.err
    assert "summarize on mock/echo-2 (was mock/echo;" in r.err
    assert "PASSED" in r.out


def test_a_model_that_loses_quality_is_a_regression(git_project):
    p = git_project
    _project(p)
    before = p.read("evals/baselines/summarize.json")
    r = p.run("eval", "--model", "mock/shout")
    assert r.code == 1, r.out + r.err
    assert "summarize on mock/shout (was mock/echo;" in r.err
    assert p.read("evals/baselines/summarize.json") == before  # nothing re-recorded


def test_several_models_run_side_by_side(git_project):
    p = git_project
    _project(p)
    r = p.run("eval", "--model", "mock/echo-2", "--model", "mock/shout")
    assert r.code == 1, r.out + r.err
    assert "models side by side (each against mock/echo-2, paired by case)" in r.out
    lines = [x for x in r.out.splitlines() if x.startswith("summarize  has")]
    assert lines and "100.0%" in lines[0] and "0.0% (-100.0 pts" in lines[0]


def test_param_overrides_change_the_version_and_still_gate(git_project):
    p = git_project
    _project(p)
    r = p.run("eval", "--param", "temperature=0.9")
    assert r.code == 0, r.out + r.err
    assert "summarize on mock/echo (was mock/echo;" in r.err


def test_bad_model_and_param_are_exit_2(git_project):
    p = git_project
    _project(p)
    for argv, message in (
        (["--model", "gpt-4.1"], "must be <provider>/<model id>"),
        (["--model", "nope/x"], "unknown provider 'nope'"),
        (["--param", "temperature"], "is not NAME=VALUE"),
        (["--model", "mock/a", "--update-baseline"], "cannot be combined with --model"),
        (["--model", "mock/a", "--model", "mock/b", "--junit", "j.xml"], "one --model at a time"),
    ):
        r = p.run("eval", *argv)
        assert r.code == 2, (argv, r.err)
        assert message in r.err and "Traceback" not in r.err


def test_param_values_are_typed_and_the_dry_run_and_budget_see_them(
    git_project, llm_server, monkeypatch
):
    """--param values are YAML scalars like the prompt file's (a provider rejects "0.5"), the
    budget prices the overridden max_tokens, and --dry-run estimates the swapped model."""
    from tests.conftest import FAKE_KEY
    from tests.fakes.llm_server import write_config

    p = git_project
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(p.root, llm_server, extra="prices:\n  fake/m: {input: 1.0, output: 2.0}\n")
    seed(p, prompt=PROMPT.replace("mock/echo", "fake/m"))
    assert p.run("eval", "--update-baseline").code == 0
    p.commit("baseline")
    llm_server.reset()
    r = p.run("eval", "--param", "temperature=0.5", "--param", "seed=7")
    assert r.code == 0, r.out + r.err
    chats = [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    assert chats and all(x.body["temperature"] == 0.5 and x.body["seed"] == 7 for x in chats), (
        chats[0].body
    )
    # an overridden max_tokens is what the budget prices: refused before any call
    llm_server.reset()
    r = p.run("eval", "--fresh", "--param", "max_tokens=1000000", "--max-cost", "0.01")
    assert r.code == 3, r.out + r.err
    assert not [x for x in llm_server.requests if x.path.endswith("/chat/completions")]
    # a model never run: the dry run counts its calls (it said 0 and $0, from the cache)
    r = p.run("eval", "--model", "fake/brand-new", "--dry-run", "--format", "json")
    assert r.code == 0, r.err
    [plan] = __import__("json").loads(r.out)
    assert plan["calls"] == plan["pairs"] > 0 and plan["cached"] == 0
