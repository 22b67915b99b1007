"""The response cache: SQLite at <state>/cache.db, keyed by Request.key; writes batched.

The schema changes only through MIGRATIONS (simonw/llm's pattern): functions applied in order,
each once, recorded in a `_migrations` table, so a later change of the table upgrades an
existing cache instead of finding it "corrupt". Never edit a released migration; add one.

WAL plus a busy timeout make two processes (two shards, two terminals) safe on one file.
Errors are never stored, nor keys or headers: a row is the reply's text, model, usage,
latency and cost. Rows are filed under an HMAC of the request key with a random secret of this
clone (cache.key beside the database): a cache.db committed by a pull request, or copied from
elsewhere, answers nothing here (issue 19). Writes wait in memory and go out in one
transaction every FLUSH_ROWS rows or on close, so a 1000-case run pays a handful of commits
instead of a sync per call.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptctl.errors import IncompleteError
from promptctl.model import Reply

FILE_NAME = "cache.db"
KEY_FILE = "cache.key"  # this clone's secret; never committed, never copied
FLUSH_ROWS = 64
BUSY_TIMEOUT_MS = 10_000

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name (without a leading _) is its record."""
    MIGRATIONS.append(fn)
    return fn


@migration
def m001_replies(db: sqlite3.Connection) -> None:
    # IF NOT EXISTS: a cache written before migrations existed already has this very table.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS replies (
            key TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            text TEXT NOT NULL,
            reply_model TEXT NOT NULL DEFAULT '',
            input_tokens INTEGER,
            output_tokens INTEGER,
            latency_s REAL NOT NULL DEFAULT 0,
            cost_usd REAL,
            finish_reason TEXT,
            created_at REAL NOT NULL,
            hits INTEGER NOT NULL DEFAULT 0
        )
        """
    )


def migrate(db: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply, in order, the migrations `db` has not had; each exactly once. Returns their names.

    One IMMEDIATE transaction: two processes opening a fresh cache at once cannot both apply
    a migration, and a failed one leaves the database as it was. A database that is up to
    date is only read (a read-only state directory still serves `cache stats`).
    """
    names = [fn.__name__.lstrip("_") for fn in migrations]
    if set(names) <= _applied(db):
        return []
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute(
            "CREATE TABLE IF NOT EXISTS _migrations "
            "(name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
        )
        done = _applied(db)
        applied = []
        for name, fn in zip(names, migrations, strict=True):
            if name in done:
                continue
            fn(db)
            db.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)", (name, time.time())
            )
            applied.append(name)
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return applied


def _applied(db: sqlite3.Connection) -> set[str]:
    found = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if found is None:
        return set()
    return {name for (name,) in db.execute("SELECT name FROM _migrations")}


_COLUMNS = (
    "key",
    "provider",
    "model",
    "text",
    "reply_model",
    "input_tokens",
    "output_tokens",
    "latency_s",
    "cost_usd",
    "finish_reason",
    "created_at",
)
# Built from the constant column list above, never from input.
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM replies WHERE key = ?"  # noqa: S608
_INSERT = (
    f"INSERT OR REPLACE INTO replies ({', '.join(_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' * len(_COLUMNS))})"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheStats:
    path: str
    rows: int
    size_bytes: int
    hits: int
    by_model: dict[str, int]


class Cache:
    """One connection per process; thread-safe because flushes may run in a worker thread."""

    def __init__(self, path: Path, *, flush_rows: int | None = None) -> None:
        self.path = path
        self.flush_rows = flush_rows or FLUSH_ROWS
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Any, ...]] = {}
        self._hits: dict[str, int] = {}
        self._db: sqlite3.Connection | None = None
        self._secret: bytes | None = None

    def row_key(self, key: str) -> str:
        """The key a request's row is filed under: an HMAC with this clone's secret."""
        if self._secret is None:
            self._secret = _clone_secret(self.path.with_name(KEY_FILE))
        return hmac.new(self._secret, key.encode("utf-8"), hashlib.sha256).hexdigest()

    @classmethod
    def for_state_dir(cls, state_dir: Path, **kwargs: Any) -> Cache:
        return cls(state_dir / FILE_NAME, **kwargs)

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as e:
                if not _corrupt(e) or not self.path.exists():
                    raise self._open_error(e) from None
                self._start_afresh(e)
                try:
                    self._db = self._open()
                except sqlite3.Error as again:
                    raise self._open_error(again) from None
            except sqlite3.Error as e:
                raise self._open_error(e) from None
            except OSError as e:  # e.g. a read-only .promptctl/
                raise IncompleteError(
                    f"cannot open the response cache {self.path}: {e.strerror or e}",
                    hint="make the state directory writable, or run with --no-cache",
                ) from None
        return self._db

    def _start_afresh(self, e: sqlite3.Error) -> None:
        """Not a database, or a malformed one (a crash mid-copy, a bad disk; found at open or
        only when a damaged page is read): a cache holds nothing that cannot be asked again,
        so keep it aside and start an empty one. The next `_conn()` opens it."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self._set_aside()
        import warnings

        from promptctl.errors import PromptctlWarning

        warnings.warn(
            PromptctlWarning(
                f"the response cache {self.path} was corrupt ({e}); moved it to "
                f"{aside.name} and started an empty one"
            ),
            stacklevel=4,
        )

    def _open_error(self, e: sqlite3.Error) -> IncompleteError:
        return IncompleteError(
            f"cannot open the response cache {self.path}: {e}",
            hint="`promptctl cache clear` or delete the file; or run with --no-cache",
        )

    def _set_aside(self) -> Path:
        aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                src.replace(Path(f"{aside}{suffix}"))
        return aside

    def _open(self) -> sqlite3.Connection:
        # Two processes creating the file at once: switching to WAL takes an exclusive lock,
        # and SQLite answers "database is locked" at once rather than wait (deadlock
        # avoidance); the busy timeout does not cover it, so try again for a while.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return self._open_once()
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _open_once(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(
            self.path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
        try:
            db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: durable across a process crash, syncs only at checkpoints.
            db.execute("PRAGMA synchronous=NORMAL")
            migrate(db)
            # a header that parses but pages that do not: find out now, not mid-run
            db.execute("SELECT COUNT(*) FROM replies").fetchone()
        except sqlite3.Error:
            db.close()
            raise
        return db

    def get(self, key: str) -> Reply | None:
        key = self.row_key(key)
        with self._lock:
            row = self._pending.get(key)
            if row is None:
                try:
                    row = self._conn().execute(_SELECT, (key,)).fetchone()
                except sqlite3.Error as e:
                    if _corrupt(e):
                        self._start_afresh(e)
                    return None  # a cache that cannot be read is a miss, not a failed run
            if row is None:
                return None
            self._hits[key] = self._hits.get(key, 0) + 1
        return Reply(
            text=row[3],
            model=row[4],
            input_tokens=row[5],
            output_tokens=row[6],
            latency_s=row[7],
            cost_usd=row[8],
            finish_reason=row[9],
            cached=True,
        )

    def contains(self, key: str) -> bool:
        key = self.row_key(key)
        with self._lock:
            if key in self._pending:
                return True
            try:
                found = (
                    self._conn().execute("SELECT 1 FROM replies WHERE key = ?", (key,)).fetchone()
                )
            except sqlite3.Error as e:
                if _corrupt(e):
                    self._start_afresh(e)
                return False
        return found is not None

    def put(self, key: str, provider: str, model: str, reply: Reply) -> bool:
        """Queue a row; True when the queue is due for a flush."""
        key = self.row_key(key)
        row = (
            key,
            provider,
            model,
            reply.text,
            reply.model,
            reply.input_tokens,
            reply.output_tokens,
            reply.latency_s,
            reply.cost_usd,
            reply.finish_reason,
            time.time(),
        )
        with self._lock:
            self._pending[key] = row
            return len(self._pending) >= self.flush_rows

    def flush(self) -> None:
        with self._lock:
            rows, hits = list(self._pending.values()), dict(self._hits)
            self._pending.clear()
            self._hits.clear()
            if not rows and not hits:
                return
            for attempt in (1, 2):
                db = self._conn()
                try:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany(_INSERT, rows)
                    db.executemany(
                        "UPDATE replies SET hits = hits + ? WHERE key = ?",
                        [(n, k) for k, n in hits.items()],
                    )
                    db.execute("COMMIT")
                    return
                except sqlite3.Error as e:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    if attempt == 1 and _corrupt(e):
                        self._start_afresh(e)  # then the rows go into the new, empty cache
                        hits = {}
                        continue
                    raise IncompleteError(
                        f"cannot write the response cache {self.path}: {e}",
                        hint="another process may hold it locked; retry, or run with --no-cache",
                    ) from None

    def close(self) -> None:
        try:
            self.flush()
        finally:
            with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None

    def stats(self) -> CacheStats:
        if not self.path.exists() and not self._pending:
            return CacheStats(path=str(self.path), rows=0, size_bytes=0, hits=0, by_model={})
        self.flush()
        with self._lock:
            try:
                rows, hits, by_model = self._count()
            except sqlite3.DatabaseError as e:
                if not _corrupt(e):
                    raise IncompleteError(
                        f"cannot read the response cache {self.path}: {e}"
                    ) from None
                self._start_afresh(e)
                rows, hits, by_model = self._count()
        size = sum(
            f.stat().st_size
            for f in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if f.exists()
        )
        return CacheStats(
            path=str(self.path), rows=rows, size_bytes=size, hits=hits, by_model=by_model
        )

    def _count(self) -> tuple[int, int, dict[str, int]]:
        db = self._conn()
        rows, hits = db.execute("SELECT COUNT(*), COALESCE(SUM(hits), 0) FROM replies").fetchone()
        by_model = {
            f"{p}/{m}": n
            for p, m, n in db.execute(
                "SELECT provider, model, COUNT(*) FROM replies GROUP BY provider, model "
                "ORDER BY provider, model"
            )
        }
        return int(rows), int(hits), by_model

    def clear(self) -> int:
        """Delete every row; returns how many there were."""
        if not self.path.exists():
            self._pending.clear()
            return 0
        with self._lock:
            self._pending.clear()
            self._hits.clear()
            db = self._conn()
            try:
                (count,) = db.execute("SELECT COUNT(*) FROM replies").fetchone()
                db.execute("DELETE FROM replies")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                db.execute("VACUUM")
            except sqlite3.Error as e:
                if not _corrupt(e):
                    raise IncompleteError(
                        f"cannot clear the response cache {self.path}: {e}"
                    ) from None
                self._start_afresh(e)  # set aside: what it held is gone from the cache
                self._conn()
                return 0
        return int(count)


def _corrupt(e: sqlite3.Error) -> bool:
    """Damage, not contention: "file is not a database", "database disk image is malformed"
    (plain DatabaseError; "database is locked" and a read-only file are OperationalErrors)."""
    text = str(e).lower()
    return type(e) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def _clone_secret(path: Path) -> bytes:
    """The random secret of this clone's cache, created on first use (0600, never through a
    symlink). Linked into place whole, so a second process reads the first one's secret."""
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for _ in range(3):
        try:
            fd = os.open(path, os.O_RDONLY | nofollow)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise IncompleteError(
                f"cannot read the cache secret {path}: {e.strerror or e}",
                hint="delete it (the cache starts afresh), or run with --no-cache",
            ) from None
        else:
            with os.fdopen(fd, "rb") as fh:
                secret = fh.read(128).strip()
            if len(secret) == 64:
                return secret
            raise IncompleteError(
                f"the cache secret {path} is damaged",
                hint="delete it (the cache starts afresh), or run with --no-cache",
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(secrets.token_hex(32).encode("ascii") + b"\n")
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        except OSError as e:
            raise IncompleteError(
                f"cannot create the cache secret {path}: {e.strerror or e}",
                hint="make the state directory writable, or run with --no-cache",
            ) from None
    raise IncompleteError(f"cannot create the cache secret {path}")
