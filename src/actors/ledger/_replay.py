"""Reducers, replay and the state digest.

State is rebuilt by folding records, in chain order, through reducers
registered per record kind: pure functions ``(state, record) -> state``. A
replay starts from the latest checkpoint its reducers wrote (or from the
initial state) and checks every record it folds exactly as verification does,
so it never reduces a broken chain.

The state digest is SHA-256 over the canonical msgpack encoding of the state
(map keys sorted): two replays of the same records give the same bytes, and
so the same digest. State must survive a msgpack round trip unchanged for a
replay from a checkpoint to equal one from the beginning: use plain dicts,
lists, strings and numbers, or Structs with ``state_type`` given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from ._chain import ChainWalker, Fault, FaultKind, ReadFailed, anchor_fault
from ._errors import EpochNotFound, LedgerCorrupted, ReplayError
from ._record import Checkpoint, Record, digest_of

if TYPE_CHECKING:
    from ._store import Store

__all__ = [
    "Reducer",
    "Reducers",
    "ReplayResult",
    "replay_epoch_store",
    "replay_store",
    "state_digest",
    "summary_reducers",
]

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])

Reducer = Callable[[S, Record], S]
"""A pure function of the state and one record, returning the new state."""

_encoder = msgspec.msgpack.Encoder(order="sorted")


def state_digest(state: object) -> str:
    """The hex SHA-256 of ``state``'s canonical msgpack encoding."""
    return digest_of(_encoder.encode(state)).hex()


class Reducers(Generic[S]):
    """A named set of reducers, one per record kind, and the initial state.

    ``name`` identifies the state's shape in checkpoints: a replay only starts
    from checkpoints written by reducers of the same name. Kinds without a
    reducer go to ``fallback``, or are skipped when there is none.
    """

    def __init__(
        self,
        name: str,
        initial: Callable[[], S],
        *,
        state_type: Any = Any,  # Any: a type expression for msgspec (Any = plain values)
        fallback: Reducer[S] | None = None,
    ) -> None:
        if not name:
            raise ValueError("reducers need a name (it labels their checkpoints)")
        self.name = name
        self.initial = initial
        self.fallback = fallback
        self._by_kind: dict[str, Reducer[S]] = {}
        self._decoder: msgspec.msgpack.Decoder[S] = msgspec.msgpack.Decoder(state_type)

    def on(self, kind: str) -> Callable[[F], F]:
        """Register the decorated function as the reducer of ``kind``."""

        def register(reducer: F) -> F:
            self.add(kind, reducer)
            return reducer

        return register

    def add(self, kind: str, reducer: Reducer[S]) -> None:
        """Register ``reducer`` for records of ``kind``."""
        if kind in self._by_kind:
            raise ValueError(f"reducers {self.name!r} already have a reducer for {kind!r}")
        self._by_kind[kind] = reducer

    @property
    def kinds(self) -> frozenset[str]:
        """The kinds with a registered reducer."""
        return frozenset(self._by_kind)

    def apply(self, state: S, record: Record) -> S:
        """Fold one record into ``state``."""
        reducer = self._by_kind.get(record.kind, self.fallback)
        if reducer is None:
            return state
        return reducer(state, record)

    def encode_state(self, state: S) -> bytes:
        """The canonical bytes of ``state``."""
        try:
            return _encoder.encode(state)
        except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
            raise ReplayError(
                f"reducers {self.name!r} built a state msgpack cannot encode: {exc}"
            ) from exc

    def decode_state(self, data: bytes) -> S:
        """A state from its canonical bytes (a checkpoint's)."""
        try:
            return self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise ReplayError(f"checkpoint state does not decode for {self.name!r}: {exc}") from exc

    def __repr__(self) -> str:
        return f"Reducers({self.name!r}, kinds={sorted(self._by_kind)})"


class ReplayResult(msgspec.Struct, Generic[S], frozen=True):
    """The state a replay rebuilt and how it got there."""

    state: S
    """The rebuilt state."""
    encoded: bytes
    """Its canonical msgpack bytes: equal across replays of the same records."""
    digest: str
    """Hex SHA-256 of :attr:`encoded`."""
    records: int
    """How many records were folded by this replay (after the checkpoint, if any)."""
    start_seq: int
    """Replay folded records after this sequence number."""
    last_seq: int
    """The last record folded (``start_seq`` if none)."""
    checkpoint: int | None
    """The sequence number of the checkpoint the replay started from, if any."""
    epoch: int | None = None
    """The epoch replayed, for :meth:`~actors.ledger.Ledger.replay_epoch`."""


def summary_reducers() -> Reducers[dict[str, Any]]:
    """Reducers that count records per kind and epoch: the CLI's default state."""
    return Reducers("tadpole.summary", _summary_initial, fallback=_summary_count)


def _summary_initial() -> dict[str, Any]:  # Any: a plain msgpack-shaped state
    return {"records": 0, "kinds": {}, "epochs": {}, "last_seq": 0}


def _summary_count(state: dict[str, Any], record: Record) -> dict[str, Any]:
    kinds: dict[str, int] = state["kinds"]
    epochs: dict[str, int] = state["epochs"]
    kind = record.kind
    kinds[kind] = kinds.get(kind, 0) + 1
    epoch = str(record.epoch)
    epochs[epoch] = epochs.get(epoch, 0) + 1
    state["records"] += 1
    state["last_seq"] = record.seq
    return state


def replay_store(
    store: Store,
    reducers: Reducers[S],
    *,
    from_checkpoint: bool = True,
    upto: int | None = None,
) -> ReplayResult[S]:
    """Rebuild state from an open store (blocking: call it off the event loop).

    Starts from the latest checkpoint of ``reducers`` at or before ``upto``
    (when ``from_checkpoint``), otherwise from the initial state, which needs
    the records from the beginning. Raises :class:`LedgerCorrupted` on the
    first bad record and :class:`ReplayError` if the history was pruned.
    """
    with store.snapshot():  # head, checkpoints and records as of one commit
        st = store.state()
        end = st.head_seq if upto is None else min(upto, st.head_seq)
        checkpoints = store.checkpoints()
        _check_anchor(store, st.base_seq, st.base_hash, checkpoints)
        start: Checkpoint | None = None
        if from_checkpoint:
            usable = [
                cp
                for cp in checkpoints
                if cp.reducers == reducers.name and st.base_seq <= cp.seq <= end
            ]
            start = usable[-1] if usable else None
        if start is None:
            if st.base_seq > 0:
                raise ReplayError(
                    f"records up to seq {st.base_seq} were pruned and no checkpoint of reducers "
                    f"{reducers.name!r} covers them"
                )
            state = reducers.initial()
            anchor_seq, anchor_hash = 0, st.base_hash
        else:
            if digest_of(start.state) != start.digest:
                raise LedgerCorrupted(
                    store.location,
                    Fault(
                        start.seq, FaultKind.CHECKPOINT_MISMATCH, "state does not match its digest"
                    ),
                )
            state = reducers.decode_state(start.state)
            anchor_seq, anchor_hash = start.seq, start.hash
        walker = ChainWalker(
            anchor_seq,
            anchor_hash,
            head_seq=end,
            head_hash=st.head_hash if end == st.head_seq else None,
            checkpoints=[cp for cp in checkpoints if cp.seq <= end],
            check_payload=False,
        )
        state = _fold(store, reducers, walker, state, store.records(anchor_seq, end))
        encoded = reducers.encode_state(state)
        return ReplayResult(
            state=state,
            encoded=encoded,
            digest=digest_of(encoded).hex(),
            records=walker.checked,
            start_seq=anchor_seq,
            last_seq=walker.last_seq,
            checkpoint=None if start is None else start.seq,
        )


def replay_epoch_store(store: Store, reducers: Reducers[S], epoch: int) -> ReplayResult[S]:
    """Fold only the records of ``epoch`` into the initial state (blocking).

    Records before the epoch are still checked, starting from the latest
    checkpoint (of any reducers) taken in an earlier epoch.
    """
    with store.snapshot():  # head, checkpoints and records as of one commit
        st = store.state()
        checkpoints = store.checkpoints()
        _check_anchor(store, st.base_seq, st.base_hash, checkpoints)
        anchor_seq, anchor_hash = st.base_seq, st.base_hash
        for cp in checkpoints:
            if st.base_seq <= cp.seq and cp.epoch < epoch and cp.seq > anchor_seq:
                anchor_seq, anchor_hash = cp.seq, cp.hash
        base_epochs = [cp.epoch for cp in checkpoints if cp.seq == st.base_seq]
        if st.base_seq > 0 and base_epochs and base_epochs[0] >= epoch:
            raise ReplayError(f"records of epoch {epoch} up to seq {st.base_seq} were pruned")
        walker = ChainWalker(
            anchor_seq,
            anchor_hash,
            head_seq=st.head_seq,
            head_hash=st.head_hash,
            checkpoints=checkpoints,
            check_payload=False,
        )
        state = reducers.initial()
        folded = 0
        first = last = anchor_seq
        try:
            for record in store.records(anchor_seq):
                fault = walker.feed(record)
                if fault is not None:
                    raise LedgerCorrupted(store.location, fault)
                if record.epoch < epoch:
                    continue
                if record.epoch > epoch:
                    break
                if folded == 0:
                    first = record.seq - 1
                state = _apply(reducers, state, record)
                folded += 1
                last = record.seq
            else:
                fault = walker.finish()
                if fault is not None:
                    raise LedgerCorrupted(store.location, fault)
        except ReadFailed as exc:
            raise LedgerCorrupted(
                store.location, Fault(walker.expected, FaultKind.UNREADABLE, str(exc))
            ) from exc
        if folded == 0:
            raise EpochNotFound(epoch)
        encoded = reducers.encode_state(state)
        return ReplayResult(
            state=state,
            encoded=encoded,
            digest=digest_of(encoded).hex(),
            records=folded,
            start_seq=first,
            last_seq=last,
            checkpoint=None,
            epoch=epoch,
        )


def _check_anchor(
    store: Store, base_seq: int, base_hash: bytes, checkpoints: list[Checkpoint]
) -> None:
    fault = anchor_fault(base_seq, base_hash, checkpoints)
    if fault is not None:
        raise LedgerCorrupted(store.location, fault)


def _fold(
    store: Store,
    reducers: Reducers[S],
    walker: ChainWalker,
    state: S,
    records: Iterator[Record],
) -> S:
    feed = walker.feed
    try:
        for record in records:
            fault = feed(record)
            if fault is not None:
                raise LedgerCorrupted(store.location, fault)
            state = _apply(reducers, state, record)
    except ReadFailed as exc:
        raise LedgerCorrupted(
            store.location, Fault(walker.expected, FaultKind.UNREADABLE, str(exc))
        ) from exc
    fault = walker.finish()
    if fault is not None:
        raise LedgerCorrupted(store.location, fault)
    return state


def _apply(reducers: Reducers[S], state: S, record: Record) -> S:
    try:
        return reducers.apply(state, record)
    except (ReplayError, LedgerCorrupted):
        raise
    except Exception as exc:
        raise ReplayError(
            f"reducer for {record.kind!r} failed on seq {record.seq}: {type(exc).__name__}: {exc}"
        ) from exc
