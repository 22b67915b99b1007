"""The SQLite response cache: hits without requests, batching, errors never stored, two
processes on one file, `promptctl cache stats|clear`."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from promptctl.engine import Engine
from promptctl.engine.cache import Cache
from promptctl.errors import ProviderError
from promptctl.model import Reply, Request
from promptctl.project import config
from tests.conftest import FAKE_KEY
from tests.fakes.llm_server import FakeLLMServer, Scripted, write_config

FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.02}


@pytest.fixture
def fake(project: Any, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", FAKE_KEY)
    write_config(project.root, llm_server)
    return config.load_project(root=project.root)


def request(text: str, **params: Any) -> Request:
    return Request(
        provider="fake", model="m", messages=({"role": "user", "content": text},), params=params
    )


def complete_all(proj: Any, texts: list[str], **kwargs: Any) -> list[Reply]:
    async def go() -> list[Reply]:
        async with Engine(proj, **{**FAST, **kwargs}) as eng:
            return [await eng.complete(request(t)) for t in texts]

    return asyncio.run(go())


def rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0]


def test_cache_hit_makes_no_request(fake: Any, llm_server: FakeLLMServer):
    (first,) = complete_all(fake, ["hello"])
    (second,) = complete_all(fake, ["hello"])
    assert llm_server.total == 1
    assert not first.cached and second.cached
    assert (second.text, second.input_tokens, second.output_tokens) == (
        first.text,
        first.input_tokens,
        first.output_tokens,
    )


def test_key_covers_params_and_repeat(fake: Any, llm_server: FakeLLMServer):
    async def go() -> None:
        async with Engine(fake, **FAST) as eng:
            base = request("same")
            await eng.complete(base)
            await eng.complete(request("same", temperature=0.5))
            await eng.complete(Request(**{**_fields(base), "repeat": 1}))
            await eng.complete(base)
            assert eng.stats.cache_hits == 1 and eng.stats.calls == 3

    asyncio.run(go())
    assert llm_server.total == 3


def _fields(req: Request) -> dict[str, Any]:
    return {
        f: getattr(req, f)
        for f in ("provider", "model", "messages", "params", "response_format", "repeat")
    }


def test_no_cache_calls_again_and_refreshes(fake: Any, llm_server: FakeLLMServer):
    complete_all(fake, ["x"])
    (again,) = complete_all(fake, ["x"], use_cache=False)
    assert not again.cached and llm_server.total == 2


def test_errors_are_never_cached(fake: Any, llm_server: FakeLLMServer):
    llm_server.enqueue(Scripted.error(500))
    with pytest.raises(ProviderError):
        complete_all(fake, ["boom"], max_retries=0)
    (reply,) = complete_all(fake, ["boom"])
    assert not reply.cached and reply.text == "boom" and llm_server.total == 2


def test_writes_are_batched_until_flush_or_close(tmp_path: Path):
    cache = Cache(tmp_path / "cache.db", flush_rows=4)
    for i in range(3):
        assert cache.put(f"k{i}", "p", "m", Reply(text=str(i))) is False
    assert cache.get("k1") is not None  # pending rows are readable at once
    assert not (tmp_path / "cache.db").exists() or rows(tmp_path / "cache.db") == 0
    assert cache.put("k3", "p", "m", Reply(text="3")) is True  # due for a flush
    cache.flush()
    assert rows(tmp_path / "cache.db") == 4
    cache.put("k4", "p", "m", Reply(text="4"))
    cache.close()
    assert rows(tmp_path / "cache.db") == 5


def test_rows_hold_no_secret_and_no_headers(fake: Any, llm_server: FakeLLMServer, project: Any):
    complete_all(fake, ["secret test"])
    db = project.root / ".promptctl" / "cache.db"
    data = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.is_file())
    assert FAKE_KEY.encode() not in data
    assert b"authorization" not in data.lower()
    with sqlite3.connect(db) as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(replies)")]
    assert "headers" not in cols


def test_two_processes_share_one_cache(fake: Any, llm_server: FakeLLMServer, project: Any):
    script = textwrap.dedent(f"""
        import asyncio, sys, time
        from pathlib import Path
        from promptctl.engine import cache
        from promptctl.project import config
        from promptctl.engine import Engine
        from promptctl.model import Request

        cache.FLUSH_ROWS = 3  # many small transactions, to collide with the other process
        proj = config.load_project(root=Path({str(project.root)!r}))

        # A file barrier: both processes start calling at the same moment.
        me, other = sys.argv[1], "b" if sys.argv[1] == "a" else "a"
        (proj.root / f"ready-{{me}}").touch()
        while not (proj.root / f"ready-{{other}}").exists():
            time.sleep(0.005)

        async def main():
            async with Engine(proj, concurrency=4) as eng:
                async def one(i):
                    return await eng.complete(Request(provider="fake", model="m",
                        messages=({{"role": "user", "content": f"q{{i}}"}},)))
                order = range(40) if sys.argv[1] == "a" else reversed(range(40))
                replies = await asyncio.gather(*(one(i) for i in order))
                assert all(r.text.startswith("q") for r in replies)
        asyncio.run(main())
    """)
    llm_server.latency_s = 0.01
    env = {**_env(), "FAKE_API_KEY": FAKE_KEY}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, tag], env=env, stderr=subprocess.PIPE, text=True
        )
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    db = project.root / ".promptctl" / "cache.db"
    assert rows(db) == 40
    before = llm_server.total
    assert 40 <= before <= 80
    assert llm_server.peak_in_flight > 4  # the two processes really ran at once
    replies = complete_all(fake, [f"q{i}" for i in range(40)])
    assert all(r.cached for r in replies) and llm_server.total == before


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.endswith("_KEY")}


def test_cache_stats_and_clear_commands(fake: Any, project: Any):
    r = project.run("cache", "stats", "--format", "json")
    assert r.code == 0 and json.loads(r.out)["rows"] == 0
    assert not (project.root / ".promptctl").exists()  # stats on no cache creates nothing
    complete_all(fake, ["a", "b", "c"])
    complete_all(fake, ["a"])
    r = project.run("cache", "stats", "--format", "json")
    stats = json.loads(r.out)
    assert r.code == 0
    assert stats["rows"] == 3 and stats["hits"] == 1 and stats["by_model"] == {"fake/m": 3}
    assert stats["path"] == ".promptctl/cache.db" and stats["size_bytes"] > 0
    text = project.run("cache", "stats")
    assert "rows:  3" in text.out and "fake/m" in text.out
    cleared = project.run("cache", "clear")
    assert cleared.code == 0 and "removed 3 cached replies" in cleared.err
    assert json.loads(project.run("cache", "stats", "--format", "json").out)["rows"] == 0


def test_cache_stats_rejects_unknown_format(project: Any):
    r = project.run("cache", "stats", "--format", "xml")
    assert r.code == 2 and "--format 'xml'" in r.err


def test_a_cache_that_cannot_be_written_is_a_warning_not_a_failure(
    fake: Any, llm_server: FakeLLMServer, project: Any, monkeypatch: pytest.MonkeyPatch
):
    from promptctl.engine import cache as cache_mod
    from promptctl.errors import PromptctlWarning

    complete_all(fake, ["first"])  # creates the database
    monkeypatch.setattr(cache_mod, "BUSY_TIMEOUT_MS", 50)
    holder = sqlite3.connect(project.root / ".promptctl" / "cache.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        with pytest.warns(PromptctlWarning, match="were not cached"):
            (reply,) = complete_all(fake, ["second"])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert reply.text == "second"
    assert rows(project.root / ".promptctl" / "cache.db") == 1


# The table as promptctl wrote it before the cache had migrations (no _migrations table).
PRE_MIGRATIONS_SCHEMA = """
CREATE TABLE replies (
    key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL, text TEXT NOT NULL,
    reply_model TEXT NOT NULL DEFAULT '', input_tokens INTEGER, output_tokens INTEGER,
    latency_s REAL NOT NULL DEFAULT 0, cost_usd REAL, finish_reason TEXT,
    created_at REAL NOT NULL, hits INTEGER NOT NULL DEFAULT 0
)
"""


def old_cache(path: Path) -> None:
    k1 = Cache(path).row_key("k1")  # rows are filed under this clone's HMAC of the key
    db = sqlite3.connect(path)
    db.execute(PRE_MIGRATIONS_SCHEMA)
    db.execute(
        "INSERT INTO replies (key, provider, model, text, reply_model, input_tokens, "
        "output_tokens, latency_s, cost_usd, finish_reason, created_at, hits) "
        "VALUES (?, 'openai', 'm', 'kept', 'm-2024', 5, 7, 0.25, 0.001, 'stop', 1.0, 2)",
        (k1,),
    )
    db.commit()
    db.close()


def open_and_close(path: Path) -> None:
    store = Cache(path)
    assert store.contains("k1")  # the connection opens (and migrates) on first use
    store.close()


def migrations_of(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [n for (n,) in db.execute("SELECT name FROM _migrations ORDER BY applied_at")]
    finally:
        db.close()


def test_a_cache_from_before_migrations_is_adopted_with_its_rows(tmp_path: Path) -> None:
    from promptctl.engine import cache as cache_mod

    path = tmp_path / "cache.db"
    old_cache(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a "corrupt cache" event
        store = Cache(path)
        reply = store.get("k1")
    assert reply == Reply(
        text="kept",
        model="m-2024",
        input_tokens=5,
        output_tokens=7,
        latency_s=0.25,
        cost_usd=0.001,
        finish_reason="stop",
        cached=True,
    )
    store.close()
    assert migrations_of(path) == [f.__name__ for f in cache_mod.MIGRATIONS]
    open_and_close(path)  # a second open applies nothing again
    assert migrations_of(path) == [f.__name__ for f in cache_mod.MIGRATIONS]
    assert not list(tmp_path.glob("cache.db.corrupt-*"))


def test_a_later_migration_upgrades_an_old_cache_in_order_and_once(tmp_path: Path) -> None:
    from promptctl.engine import cache as cache_mod

    path = tmp_path / "cache.db"
    old_cache(path)
    open_and_close(path)  # now at the current schema, m001 recorded
    calls: list[str] = []

    def m002_add_seed(db: sqlite3.Connection) -> None:
        calls.append("m002")
        db.execute("ALTER TABLE replies ADD COLUMN seed INTEGER")
        db.execute("UPDATE replies SET seed = 0")

    def m003_index_model(db: sqlite3.Connection) -> None:
        calls.append("m003")
        db.execute("CREATE INDEX replies_model ON replies (provider, model)")

    later = [*cache_mod.MIGRATIONS, m002_add_seed, m003_index_model]
    db = sqlite3.connect(path, isolation_level=None)
    try:
        assert cache_mod.migrate(db, later) == ["m002_add_seed", "m003_index_model"]
        assert cache_mod.migrate(db, later) == []
        assert db.execute("SELECT key, text, seed FROM replies").fetchall() == [
            (Cache(path).row_key("k1"), "kept", 0)
        ]
    finally:
        db.close()
    assert calls == ["m002", "m003"]
    assert migrations_of(path) == ["m001_replies", "m002_add_seed", "m003_index_model"]


def test_a_failing_migration_leaves_the_cache_as_it_was(tmp_path: Path) -> None:
    from promptctl.engine import cache as cache_mod

    path = tmp_path / "cache.db"
    old_cache(path)
    open_and_close(path)

    def m002_adds(db: sqlite3.Connection) -> None:
        db.execute("ALTER TABLE replies ADD COLUMN seed INTEGER")

    def m003_breaks(db: sqlite3.Connection) -> None:
        db.execute("CREATE INDEX broken ON no_such_table (x)")

    db = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            cache_mod.migrate(db, [*cache_mod.MIGRATIONS, m002_adds, m003_breaks])
        columns = [row[1] for row in db.execute("PRAGMA table_info(replies)")]
    finally:
        db.close()
    assert "seed" not in columns
    assert migrations_of(path) == ["m001_replies"]


def _damaged_beyond_the_header(db: Path) -> None:
    """A cache whose header and first pages read fine but whose later pages are garbage
    ("database disk image is malformed" only when a query reaches them)."""
    cache = Cache(db)
    reply = Reply(text="x" * 500, model="m", input_tokens=1, output_tokens=1, latency_s=0.1)
    for i in range(300):
        cache.put(f"k{i}", "mock", "echo", reply)
    cache.close()
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    for offset in range(4096 * 3, len(data), 4096):
        data[offset : offset + 100] = b"\xff" * 100
    db.write_bytes(bytes(data))


@pytest.mark.parametrize("command", [["cache", "stats"], ["cache", "clear"]])
def test_a_cache_malformed_beyond_its_header_is_set_aside_and_rebuilt(
    project: Any, command: list[str]
) -> None:
    state = project.root / ".promptctl"
    state.mkdir()
    _damaged_beyond_the_header(state / "cache.db")
    r = project.run(*command)
    assert r.code == 0, r.err
    assert "warning: the response cache" in r.err and "database disk image is malformed" in r.err
    (aside,) = (
        p for p in state.glob("cache.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))
    )
    assert aside.stat().st_size > 4096 * 3
    assert rows(state / "cache.db") == 0
    r = project.run("cache", "stats")
    assert (r.code, "warning" in r.err) == (0, False)


def test_an_eval_on_a_malformed_cache_rebuilds_it_and_caches_again(
    fake: Any, project: Any, llm_server: FakeLLMServer
) -> None:
    project.write(
        "prompts/p.yaml", "model: fake/m\ninput: {t: {type: string}}\ntemplate: '{{ t }}'\n"
    )
    project.write(
        "evals/s.yaml",
        "prompt: p\ncases: [{id: a, vars: {t: x}}, {id: b, vars: {t: y}}]\n"
        "scorers: [{id: s, type: contains, value: x}]\n",
    )
    state = project.root / ".promptctl"
    state.mkdir()
    _damaged_beyond_the_header(state / "cache.db")
    # the damaged pages are where these keys would be looked up: the first read finds them
    r = project.run("eval")
    assert r.code == 0, r.err
    assert "database disk image is malformed" in r.err
    assert [p for p in state.glob("cache.db.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]
    assert rows(state / "cache.db") == 2  # the rebuilt cache holds this run's replies
    before = llm_server.total
    r = project.run("eval")
    assert (r.code, llm_server.total, "warning" in r.err) == (0, before, False)
