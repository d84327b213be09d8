"""The on-disk store: one SQLite database in WAL mode (standard library only).

Three tables: ``records`` (one row per record, ``seq`` as the rowid),
``checkpoints`` (keyed by sequence number and reducers name) and a one-row
``head`` holding the base anchor, the committed head and a clean-shutdown
flag. An append batch, its head update and a check that no other writer moved
the head commit in one transaction.

Durability is SQLite's: ``always`` runs with ``synchronous=FULL`` (the WAL is
fsynced at every commit); ``group`` with ``synchronous=NORMAL`` (a commit is
written to the WAL, so it survives the process being killed, and
:meth:`SQLiteStore.sync` fsyncs the WAL). A crash in the middle of a commit
leaves a torn WAL frame that SQLite's checksums discard on the next open: the
torn batch is dropped whole, and none of its records had been acknowledged.

Copying the WAL back into the database file (SQLite's WAL checkpoint; nothing
to do with ledger checkpoints) is :meth:`SQLiteStore.maintain`'s job, on a
connection of its own, which the ledger calls from its background thread: left
to SQLite, it runs inside a commit every 1000 pages and about a fifth of the
writer's time goes to it. The write connection still copies back by itself
once the WAL holds ``_INLINE_COPY_BACK_PAGES``, so a store used without a
ledger, or one whose background copy keeps losing the race to new commits,
keeps a bounded WAL.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pathlib
import sqlite3
import threading
from typing import TYPE_CHECKING

import msgspec

from ._chain import Fault, FaultKind, ReadFailed, VerifyReport, open_fault, verify_records
from ._errors import (
    CheckpointNotFound,
    LedgerConflict,
    LedgerCorrupted,
    LedgerError,
    LedgerNotFound,
    NotALedger,
)
from ._record import GENESIS_HASH, Checkpoint, Record
from ._store import Durability, StoreState

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

__all__ = ["SQLiteStore"]

APPLICATION_ID = 0x54504C47  # "TPLG": marks the file as a Tadpole ledger
FORMAT_VERSION = 1

_SCHEMA = (
    """CREATE TABLE records (
        seq INTEGER PRIMARY KEY,
        epoch INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        kind TEXT NOT NULL,
        payload BLOB NOT NULL,
        prev_hash BLOB NOT NULL,
        hash BLOB NOT NULL
    )""",
    """CREATE TABLE checkpoints (
        seq INTEGER NOT NULL,
        hash BLOB NOT NULL,
        epoch INTEGER NOT NULL,
        timestamp REAL NOT NULL,
        reducers TEXT NOT NULL,
        state BLOB NOT NULL,
        digest BLOB NOT NULL,
        PRIMARY KEY (seq, reducers)
    )""",
    """CREATE TABLE head (
        id INTEGER PRIMARY KEY CHECK (id = 0),
        base_seq INTEGER NOT NULL,
        base_hash BLOB NOT NULL,
        head_seq INTEGER NOT NULL,
        head_hash BLOB NOT NULL,
        head_epoch INTEGER NOT NULL,
        clean INTEGER NOT NULL
    )""",
)
_COLUMNS = "seq, epoch, timestamp, kind, payload, prev_hash, hash"
_CHECKPOINT_COLUMNS = "seq, hash, epoch, timestamp, reducers, state, digest"
_HEAD = "SELECT base_seq, base_hash, head_seq, head_hash, head_epoch, clean FROM head WHERE id = 0"

_astuple = msgspec.structs.astuple
_MAX_ROWS = 4096  # rows per INSERT statement (7 parameters each)
_PAGE_BYTES = 4096  # SQLite's default page size, which the ledger keeps
_COPY_BACK_PAGES = 1024  # maintain() copies the WAL back after about this many pages (4 MiB)
_CATCH_UP_PAGES = 4096  # a log this long (16 MiB) calls for finishing the copy, writers held
_CATCH_UP_WAIT = 0.05  # seconds the finishing copy waits for the write lock or for readers
_INLINE_COPY_BACK_PAGES = 16384  # the write connection's own backstop (64 MiB at 4 KiB)
_TRY_APPEND_PAGES = _INLINE_COPY_BACK_PAGES // 2  # try_append declines past this log length
_ROW_BYTES = 120  # a record's bytes besides its payload, roughly, as stored
_COMMIT_PAGES = 2  # pages every commit writes besides its rows' bytes (head row, B-tree edge)


def _text(data: bytes) -> str:
    # Tampered text must still come back as a string, so the hash check can name it.
    return data.decode("utf-8", "replace")


class SQLiteStore:
    """A ledger file. Construct cheaply anywhere; open in the thread that uses it."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 10.0) -> None:
        self._path = os.fspath(path)
        self._timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._writable = False
        self._durability: Durability = "group"
        self._insert_sql: dict[int, str] = {}
        self._max_rows = _MAX_ROWS
        # Written by append (one thread at a time), read by maintain (background
        # thread): an estimate of the pages written to the WAL, so of its length.
        self._pages_written = 0
        self._copied_back_at = 0  # _pages_written when maintain last copied back
        self._log_base = 0  # the log's length in pages after that copy (0: it starts over)
        self._restart_at = _CATCH_UP_PAGES  # the log's length that calls for a restarting copy
        self._maintenance: sqlite3.Connection | None = None  # the background thread's
        # Held by maintain while it holds writers off, so try_append never waits.
        self._holding_writers = threading.Lock()

    @property
    def blocking(self) -> bool:
        return True

    @property
    def location(self) -> str:
        return self._path

    @property
    def path(self) -> str:
        """The database file."""
        return self._path

    # -- opening and closing -------------------------------------------------

    def open(self, *, readonly: bool = False, durability: Durability = "group") -> StoreState:
        if self._conn is not None:
            raise RuntimeError(f"{self._path} is already open")
        path = self._path
        if os.path.isdir(path):
            raise NotALedger(path, "it is a directory")
        if not os.path.exists(path):
            if readonly:
                raise LedgerNotFound(path)
            self._create_file()
        conn = self._connect(readonly)
        try:
            state = self._prepare(conn, readonly=readonly, durability=durability)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        self._writable = not readonly
        self._durability = durability
        return state

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        path = self._path
        try:
            if readonly:
                uri = pathlib.Path(path).absolute().as_uri()
                try:
                    conn = sqlite3.connect(
                        f"{uri}?mode=rw",
                        uri=True,
                        isolation_level=None,
                        check_same_thread=False,
                        timeout=self._timeout,
                    )
                except sqlite3.OperationalError:  # a read-only file: read it as such
                    conn = sqlite3.connect(
                        f"{uri}?mode=ro",
                        uri=True,
                        isolation_level=None,
                        check_same_thread=False,
                        timeout=self._timeout,
                    )
                conn.execute("PRAGMA query_only = ON")
            else:
                conn = sqlite3.connect(
                    path, isolation_level=None, check_same_thread=False, timeout=self._timeout
                )
        except sqlite3.DatabaseError as exc:
            raise _refused(path, exc) from None
        conn.text_factory = _text
        variables = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        self._max_rows = min(_MAX_ROWS, 1 << ((variables // 7).bit_length() - 1))
        return conn

    def _create_file(self) -> None:
        """Create the ledger whole, under another name, then link it into place.

        So a crash while creating never leaves a file at the path that is
        neither a ledger nor absent: an empty or short file there is a ledger
        cut off, and opening refuses it as such.
        """
        path = self._path
        building = f"{path}.creating-{os.getpid()}-{threading.get_ident()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(building)  # left by a crash of an earlier creation
        try:
            conn = sqlite3.connect(building, isolation_level=None, timeout=self._timeout)
            try:
                self._create(conn)
            finally:
                conn.close()  # the last connection copies the WAL back and removes it
            fd = os.open(building, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(building, path)  # never replaces a ledger created meanwhile
            except FileExistsError:
                pass
            except OSError:  # no hard links here: the same, less atomically
                if not os.path.exists(path):
                    os.replace(building, path)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot create ledger {path!r}: {exc}") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(building)
        _fsync_directory(path)

    def _prepare(
        self, conn: sqlite3.Connection, *, readonly: bool, durability: Durability
    ) -> StoreState:
        path = self._path
        try:
            (app_id,) = conn.execute("PRAGMA application_id").fetchone()
            (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError as exc:
            raise _refused(path, exc) from None
        if app_id == 0 and tables == 0:
            raise _refused(path, "the database is empty")
        if app_id != APPLICATION_ID:
            raise _refused(path, f"application_id is {app_id:#x}")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version > FORMAT_VERSION:
            raise NotALedger(
                path, f"format version {version} is later than this code reads ({FORMAT_VERSION})"
            )
        if version != FORMAT_VERSION:  # marked as a ledger, but no version ever written
            raise LedgerCorrupted(
                path,
                Fault(1, FaultKind.UNREADABLE, f"the header's format version is {version}"),
            )
        try:
            if readonly:
                return self._read_state(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute(f"PRAGMA synchronous = {_synchronous(durability)}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {_INLINE_COPY_BACK_PAGES}")
            conn.execute("BEGIN IMMEDIATE")  # the check and the unclean mark as one unit
            try:
                state = self._read_state(conn)
                fault = _open_fault(conn, path, state)
                if fault is not None:
                    raise LedgerCorrupted(path, fault)
                conn.execute("UPDATE head SET clean = 0 WHERE id = 0")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        except sqlite3.DatabaseError as exc:
            raise _damaged(path, exc) from None
        return state

    def _create(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if tables == 0:  # nobody created it while we waited for the lock
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO head VALUES (0, 0, ?, 0, ?, 0, 1)", (GENESIS_HASH, GENESIS_HASH)
                )
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def _read_state(self, conn: sqlite3.Connection) -> StoreState:
        try:
            row = conn.execute(_HEAD).fetchone()
            if row is None:
                first = conn.execute("SELECT min(seq) FROM records").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise _damaged(self._path, exc) from None
        if row is None:
            # Nothing anchors the chain or says where it ends: the first stored
            # record cannot be checked, so it is the first bad one.
            raise LedgerCorrupted(
                self._path,
                Fault(
                    1 if first is None else first,
                    FaultKind.HEAD_MISMATCH,
                    "the head row is missing, so nothing records where the chain starts or ends",
                ),
            )
        base_seq, base_hash, head_seq, head_hash, head_epoch, clean = row
        return StoreState(
            base_seq=base_seq,
            base_hash=base_hash,
            head_seq=head_seq,
            head_hash=head_hash,
            head_epoch=head_epoch,
            clean=bool(clean),
        )

    def close(self) -> None:
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        maintenance, self._maintenance = self._maintenance, None
        try:
            if maintenance is not None:
                maintenance.close()
            if self._writable:
                conn.execute("UPDATE head SET clean = 1 WHERE id = 0")
                if self._durability == "group":
                    self._sync_wal()
        finally:
            conn.close()  # the last connection copies the WAL back and removes it

    # -- writing ---------------------------------------------------------------

    def append(self, records: Sequence[Record], expect_head: int) -> None:
        # Rows go in as multi-row INSERT statements of a power-of-two size
        # (padding rows are NULL and filtered out), so a batch costs a few
        # statement steps rather than one per row: each step releases and
        # retakes the GIL, which the event loop's thread competes for.
        conn = self._require()
        if not records:
            return
        last = records[-1]
        conn.execute("BEGIN IMMEDIATE")
        try:
            moved = conn.execute(
                "UPDATE head SET head_seq = ?, head_hash = ?, head_epoch = ? "
                "WHERE id = 0 AND head_seq = ?",
                (last.seq, last.hash, last.epoch, expect_head),
            ).rowcount
            if moved != 1:
                (head,) = conn.execute("SELECT head_seq FROM head WHERE id = 0").fetchone()
                raise LedgerConflict(
                    f"ledger {self._path}: head is seq {head}, this writer expected seq "
                    f"{expect_head} (another writer appended to it)"
                )
            limit = self._max_rows
            for start in range(0, len(records), limit):
                conn.execute(*self._insert(records[start : start + limit]))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        written = _ROW_BYTES * len(records) + sum(len(r.payload) for r in records)
        self._pages_written += _COMMIT_PAGES + written // _PAGE_BYTES

    def try_append(self, records: Sequence[Record], expect_head: int) -> bool:
        """:meth:`append`, unless maintain holds writers off or the log nears the backstop.

        Only under ``group`` durability, whose commits write the WAL without an
        fsync: then a small append costs tens of microseconds.
        """
        if self._durability != "group" or self.log_pages() >= _TRY_APPEND_PAGES:
            return False
        if not self._holding_writers.acquire(blocking=False):
            return False
        try:
            self.append(records, expect_head)
        finally:
            self._holding_writers.release()
        return True

    def log_pages(self) -> int:
        """An estimate of the pages in the write-ahead log now."""
        return self._log_base + self._pages_written - self._copied_back_at

    def _insert(self, records: Sequence[Record]) -> tuple[str, list[object]]:
        count = len(records)
        size = 1 << (count - 1).bit_length()
        sql = self._insert_sql.get(size)
        if sql is None:
            rows = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * size)
            sql = self._insert_sql[size] = (
                f"INSERT INTO records ({_COLUMNS}) "
                f"SELECT * FROM (VALUES {rows}) WHERE column1 IS NOT NULL"
            )
        params: list[object] = list(itertools.chain.from_iterable(map(_astuple, records)))
        if size > count:
            params.extend(itertools.repeat(None, 7 * (size - count)))
        return sql, params

    def put_checkpoint(self, checkpoint: Checkpoint) -> None:
        conn = self._require()
        conn.execute(
            f"INSERT OR REPLACE INTO checkpoints ({_CHECKPOINT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            _astuple(checkpoint),
        )

    def prune(self, upto: int) -> int:
        conn = self._require()
        conn.execute("BEGIN IMMEDIATE")
        try:
            state = self._read_state(conn)
            if upto <= state.base_seq:
                conn.execute("COMMIT")
                return 0
            anchor = conn.execute(
                "SELECT hash FROM checkpoints WHERE seq = ? LIMIT 1", (upto,)
            ).fetchone()
            if anchor is None:
                raise CheckpointNotFound(upto)
            row = conn.execute("SELECT hash FROM records WHERE seq = ?", (upto,)).fetchone()
            if row is None or row[0] != anchor[0]:
                raise LedgerCorrupted(
                    self._path,
                    Fault(
                        upto, FaultKind.CHECKPOINT_MISMATCH, "checkpoint does not match the chain"
                    ),
                )
            deleted = conn.execute("DELETE FROM records WHERE seq <= ?", (upto,)).rowcount
            conn.execute("DELETE FROM checkpoints WHERE seq < ?", (upto,))
            conn.execute(
                "UPDATE head SET base_seq = ?, base_hash = ? WHERE id = 0", (upto, anchor[0])
            )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return int(deleted)

    def sync(self) -> None:
        self._require()
        self._sync_wal()

    def maintain(self) -> None:
        """Copy the WAL back into the database once about 4 MiB were written to it.

        First a passive WAL checkpoint on the store's second connection: it
        runs alongside commits and never waits for them, and the write
        connection starts the WAL over at its next commit once everything was
        copied. Under a steady stream of commits it never finishes, though:
        each copy ends behind the commits made while it ran, the log never
        starts over, and it grows to the write connection's 64 MiB backstop,
        where every commit pays for a longer log. So once the log is long
        (``_CATCH_UP_PAGES``), a restarting checkpoint follows the passive
        one: it copies the short rest with writers held off and makes the next
        commit start the log over (waiting at most ``_CATCH_UP_WAIT`` seconds
        for the write lock or for readers, else trying again next time).
        """
        self._require()
        written = self._pages_written
        if written - self._copied_back_at < _COPY_BACK_PAGES:
            return
        conn = self._maintenance
        if conn is None:
            conn = sqlite3.connect(
                self._path, isolation_level=None, check_same_thread=False, timeout=_CATCH_UP_WAIT
            )
            # The copy fsyncs the WAL before and the database after, as the writer would.
            conn.execute(f"PRAGMA synchronous = {_synchronous(self._durability)}")
            self._maintenance = conn
        busy, log, copied = _checkpoint(conn, "PASSIVE")
        # ``log`` is the log's length when the copy began: commits made while it
        # ran (it copies megabytes and fsyncs) are not in it and were not copied.
        if log >= self._restart_at:
            with self._holding_writers:
                try:
                    busy, log, copied = _checkpoint(conn, "RESTART")
                except sqlite3.OperationalError as exc:  # locked: try again next time
                    if exc.sqlite_errorcode not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                        raise
                    busy = 1
            # A reader kept it from finishing (a long verify or replay holds its
            # snapshot): hold writers off again only once the log grew as much
            # again, not at every tick while that reader lasts.
            self._restart_at = log + _CATCH_UP_PAGES if busy else _CATCH_UP_PAGES
        self._copied_back_at = written
        self._log_base = 0 if not busy and log == copied else max(log, 0)

    def _sync_wal(self) -> None:
        # Committed WAL frames are in the OS cache; fsync puts them on stable storage.
        try:
            fd = os.open(self._path + "-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # nothing written since the last checkpoint, which synced
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------

    def state(self) -> StoreState:
        return self._read_state(self._require())

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction: every read inside sees the same commit.

        Commits made meanwhile (by this process's writer or another) stay
        invisible until the block ends; in WAL mode they are not held up.
        """
        conn = self._require()
        if conn.in_transaction:  # already inside one
            yield
            return
        conn.execute("BEGIN DEFERRED")
        try:
            yield
        finally:
            _end_read(conn)

    def records(
        self, after: int = 0, upto: int | None = None, *, kind_prefix: str | None = None
    ) -> Iterator[Record]:
        conn = self._require()
        where = "seq > ?"
        params: list[object] = [after]
        if upto is not None:
            where += " AND seq <= ?"
            params.append(upto)
        if kind_prefix is not None:
            # No index on kind (it would cost every append); SQLite skips the other
            # rows in C, before any of them becomes a Record.
            where += " AND substr(kind, 1, ?) = ?"
            params += [len(kind_prefix), kind_prefix]
        try:
            cursor = conn.execute(
                f"SELECT {_COLUMNS} FROM records WHERE {where} ORDER BY seq", params
            )
            cursor.arraysize = 512
            yield from itertools.starmap(Record, cursor)
        except sqlite3.DatabaseError as exc:
            raise ReadFailed(f"cannot read {self._path}: {exc}") from exc

    def tail(self, count: int) -> list[Record]:
        conn = self._require()
        try:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM records ORDER BY seq DESC LIMIT ?", (max(count, 0),)
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self._path, exc) from None
        return [Record(*row) for row in reversed(rows)]

    def checkpoints(self) -> list[Checkpoint]:
        conn = self._require()
        try:
            rows = conn.execute(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq, reducers"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise _damaged(self._path, exc) from None
        return [Checkpoint(*row) for row in rows]

    def reader(self) -> SQLiteStore:
        return SQLiteStore(self._path, timeout=self._timeout)

    def _require(self) -> sqlite3.Connection:
        conn = self._conn
        if conn is None:
            raise RuntimeError(f"{self._path} is not open")
        return conn

    def __repr__(self) -> str:
        return f"SQLiteStore({self._path!r})"


def _open_fault(conn: sqlite3.Connection, path: str, state: StoreState) -> Fault | None:
    """See :func:`~actors.ledger._chain.open_fault`; counting costs about 0.1 s a million."""
    try:
        (count,) = conn.execute("SELECT count(*) FROM records").fetchone()
        first = conn.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq LIMIT 1").fetchone()
        last = conn.execute(f"SELECT {_COLUMNS} FROM records ORDER BY seq DESC LIMIT 1").fetchone()
    except sqlite3.DatabaseError as exc:
        if not _is_damage(exc):
            raise
        count, first, last = -1, None, None  # the shape is unknown: walk it as verify would

    def walk() -> VerifyReport:
        checkpoints = [
            Checkpoint(*row)
            for row in conn.execute(
                f"SELECT {_CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY seq, reducers"
            )
        ]
        return verify_records(
            _rows(conn, path, state.base_seq),
            base_seq=state.base_seq,
            base_hash=state.base_hash,
            head_seq=state.head_seq,
            head_hash=state.head_hash,
            checkpoints=checkpoints,
        )

    return open_fault(
        state,
        count,
        None if first is None else Record(*first),
        None if last is None else Record(*last),
        walk,
    )


def _rows(conn: sqlite3.Connection, path: str, after: int) -> Iterator[Record]:
    try:
        cursor = conn.execute(
            f"SELECT {_COLUMNS} FROM records WHERE seq > ? ORDER BY seq", (after,)
        )
        cursor.arraysize = 512
        yield from itertools.starmap(Record, cursor)
    except sqlite3.DatabaseError as exc:
        raise ReadFailed(f"cannot read {path}: {exc}") from exc


# What SQLite says when a file's contents are damaged (not when it is busy or
# cannot be opened): a missing table or column of a ledger is damage too.
_DAMAGE = frozenset(
    {
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
        sqlite3.SQLITE_ERROR,
        sqlite3.SQLITE_FORMAT,
        sqlite3.SQLITE_MISMATCH,
        sqlite3.SQLITE_RANGE,
    }
)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_HEADER_BYTES = 100  # SQLite's database header; application_id at offset 68
_MARK = APPLICATION_ID.to_bytes(4, "big")
_SCHEMA_MARK = _SCHEMA[2].encode()  # the head table's statement, stored on page 1
_FIRST_PAGE = 65536  # the largest page size


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    return getattr(exc, "sqlite_errorcode", sqlite3.SQLITE_ERROR) in _DAMAGE


def _damaged(path: str, exc: sqlite3.DatabaseError) -> LedgerError:
    """A file marked as a ledger that SQLite cannot read: damage, reported at seq 1."""
    if not _is_damage(exc):
        return LedgerError(f"cannot read ledger {path!r}: {exc}")
    # Nothing can be read, not even where the records start: the first is bad.
    return LedgerCorrupted(
        path, Fault(1, FaultKind.UNREADABLE, f"the database file is damaged: {exc}")
    )


def _refused(path: str, exc: sqlite3.DatabaseError | str) -> LedgerError:
    """Why a file could not be opened as a ledger: damage to one, or not one at all.

    The rule: a file is a (damaged) ledger if its header carries the ledger's
    mark, if its first page holds the ledger's schema, or if it is too short
    to hold a database header and what it holds is the start of one (a ledger
    cut off). Anything else (another SQLite database, a text file, zeros) was
    never a ledger.
    """
    if isinstance(exc, sqlite3.DatabaseError) and not _is_damage(exc):
        return LedgerError(f"cannot read ledger {path!r}: {exc}")
    reason = str(exc)
    try:
        with open(path, "rb") as file:
            head = file.read(_FIRST_PAGE)
    except OSError as error:
        return LedgerError(f"cannot read ledger {path!r}: {error}")
    if len(head) < _HEADER_BYTES:
        cut_off = head[: len(_SQLITE_MAGIC)] == _SQLITE_MAGIC[: len(head)]
        if cut_off:
            return LedgerCorrupted(
                path,
                Fault(
                    1,
                    FaultKind.UNREADABLE,
                    f"the database file is cut off at {len(head)} bytes, "
                    f"shorter than its {_HEADER_BYTES}-byte header",
                ),
            )
    elif head[68:72] == _MARK or _SCHEMA_MARK in head:
        return LedgerCorrupted(
            path, Fault(1, FaultKind.UNREADABLE, f"the database file is damaged: {reason}")
        )
    return NotALedger(path, reason)


def _checkpoint(conn: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    """Run a WAL checkpoint; (busy, frames in the log, frames copied back).

    ``fetchall``, not ``fetchone``: the statement must run to its end, or it
    would stay open on the connection.
    """
    ((busy, log, copied),) = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
    return int(busy), int(log), int(copied)


def _synchronous(durability: Durability) -> str:
    return "FULL" if durability == "always" else "NORMAL"


def _end_read(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("COMMIT")  # a read transaction: nothing to keep
    except sqlite3.Error:
        _rollback(conn)


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _fsync_directory(path: str) -> None:
    """Make a new file's directory entry durable (POSIX; a no-op where unsupported)."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
