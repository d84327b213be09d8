"""Each package's __all__ is honest and locked, and its names say they are public.

Every name exists, is public and is listed once; the exact tuple of each
package's ``__all__`` is written down here, so adding or removing a public
name is a deliberate change to this file (the failure shows the difference);
and each public class or function names its public package as its
``__module__`` (``actors.ActorSystem.__module__ == "actors"``), as trio does.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

EXPORTS: dict[str, tuple[str, ...]] = {
    "actors": (
        "Actor",
        "ActorContext",
        "ActorError",
        "ActorFailed",
        "ActorNameTaken",
        "ActorNotFound",
        "ActorRef",
        "ActorStopped",
        "ActorSystem",
        "AskDeadlock",
        "AskTimeout",
        "Backoff",
        "Cancellable",
        "ChildSpec",
        "Clock",
        "DeadLetter",
        "DeadLetters",
        "DeliveryRefused",
        "Directive",
        "Directives",
        "LinkExited",
        "LinkedActorFailed",
        "LoopClock",
        "MailboxConfig",
        "MailboxFull",
        "MailboxStatistics",
        "Maintenance",
        "MaintenanceJob",
        "MaintenanceLane",
        "MaintenanceStatistics",
        "Overflow",
        "RecordSink",
        "RemoteActorError",
        "Request",
        "Restart",
        "RestartIntensityExceeded",
        "Strategy",
        "SupervisorFlags",
        "SystemNotRunning",
        "SystemShutdown",
        "SystemStatistics",
        "Terminated",
        "TopicStatistics",
        "Topics",
        "VirtualRef",
        "VirtualStatistics",
        "run",
    ),
    "actors.lowlevel": (
        "ActorCell",
        "Deadlines",
        "DeliveryFilter",
        "DeliveryHook",
        "FilterStatistics",
        "PendingAsk",
        "RemoteResolver",
        "RequestTo",
        "RuntimeTotals",
        "add_delivery_filter",
        "attach_remote",
        "cell_at",
        "cell_of",
        "cells",
        "check_running",
        "check_timeout",
        "clock_reader",
        "delivery_filters",
        "detach_remote",
        "filter_statistics",
        "next_correlation_id",
        "pool",
        "spawn_background",
        "totals",
    ),
    "actors.ops": (
        "ALERTS_TOPIC",
        "CRITICAL",
        "DEFAULT_THRESHOLDS",
        "PARAMETERS",
        "WARNING",
        "Alert",
        "AlertCleared",
        "AlertLike",
        "AlertListener",
        "AlertTracker",
        "MonitorConfig",
        "MonitorLike",
        "MonitorStatistics",
        "NodeMetrics",
        "Operations",
        "StabilityMonitor",
        "Threshold",
        "start_operations",
    ),
    "actors.roles.quorum": (
        "DEFER",
        "DENY",
        "FAILED",
        "FALLBACKS",
        "GRANTED",
        "QUORUM_ALERT",
        "QUORUM_DECIDED",
        "QUORUM_EVENTS",
        "REJECTED",
        "RETRY",
        "Ballot",
        "CastVote",
        "Decision",
        "GetDecision",
        "GetQuorumStatistics",
        "InvalidQuorumConfig",
        "InvalidThreshold",
        "NoVoters",
        "ProposalRefused",
        "Propose",
        "Quorum",
        "QuorumAlert",
        "QuorumConfig",
        "QuorumError",
        "QuorumStatistics",
        "RegisterVoter",
        "Registered",
        "UnregisterVoter",
        "Vote",
        "VoteRecord",
        "VoteRefused",
        "VoteRejected",
        "Voter",
        "VoterStatistics",
        "decision_history_reducers",
        "outcome",
        "propose",
        "required",
    ),
    "actors.roles.territories": (
        "FENCE_REFUSED",
        "HEAT_ALERT",
        "HEAT_CLEARED",
        "LEASE_EXPIRED",
        "LEASE_GRANTED",
        "LEASE_GRANTING_KINDS",
        "LEASE_REFUSED",
        "LEASE_RELEASED",
        "LEASE_RENEWED",
        "STRATEGIES",
        "TERRITORY_EVENTS",
        "Acquire",
        "AddTerritories",
        "Assignment",
        "AssignmentStrategy",
        "AttachGuard",
        "Balance",
        "ConsistentHashing",
        "Contention",
        "CurveRanges",
        "Fenced",
        "FencedActor",
        "FencingGuard",
        "GetAssignment",
        "GetHeat",
        "GetLeases",
        "GetStatistics",
        "Granted",
        "HeatAlert",
        "HeatAware",
        "HeatCleared",
        "HeatConfig",
        "HeatEvent",
        "HeatMap",
        "HeatReport",
        "InvalidTerritoryConfig",
        "Join",
        "Lease",
        "LeaseEnded",
        "LeaseExpired",
        "LeaseNotHeld",
        "LeaseRefused",
        "LeaseStore",
        "Leave",
        "ManagerStatistics",
        "MemoryLeaseStore",
        "Rebalance",
        "Refusal",
        "Refused",
        "Release",
        "Released",
        "Renew",
        "Renewed",
        "SQLiteLeaseStore",
        "StaleFencingToken",
        "StaleTokenSeen",
        "Territory",
        "TerritoryConfig",
        "TerritoryError",
        "TerritoryManager",
        "UnknownStrategy",
        "acquire",
        "balance",
        "guard",
        "hilbert_index",
        "lease_table_reducers",
        "make_strategy",
        "moved",
        "release",
        "renew",
        "z_order_index",
    ),
    "actors.roles.tickets": (
        "Accepted",
        "BadRequest",
        "Checkpoint",
        "Claim",
        "ClaimGrant",
        "ClaimLost",
        "Concern",
        "CreateRun",
        "GetConcerns",
        "GetStatus",
        "GetTicket",
        "Input",
        "ListRuns",
        "MemoryTicketStore",
        "NoWork",
        "NotFound",
        "Pipeline",
        "Refusal",
        "Renew",
        "RunCreatedReply",
        "RunStatus",
        "RunSummary",
        "SQLiteTicketStore",
        "Stage",
        "Submit",
        "Sweep",
        "Ticket",
        "TicketConcern",
        "TicketError",
        "TicketStore",
        "TicketTable",
        "Tickets",
        "replay_table",
    ),
    "actors.roles.tickets.http": (
        "DEFAULT_MAX_BODY",
        "ROUTES",
        "HttpServer",
        "build_app",
        "openapi",
    ),
    "actors.remote": (
        "Address",
        "ConnectionLost",
        "HandshakeTimeout",
        "InvalidAddress",
        "MemoryNetwork",
        "MemoryTransport",
        "NoReply",
        "NodeNameConflict",
        "NodeUnreachable",
        "ReconnectBackoff",
        "RemoteConfig",
        "RemoteError",
        "RemoteNode",
        "RemoteRef",
        "RemoteStatistics",
        "SendBufferFull",
        "TcpTransport",
        "Transport",
        "TransportListener",
        "parse_address",
    ),
    "actors.cluster": (
        "Cluster",
        "ClusterConfig",
        "ClusterStatistics",
        "HeartbeatHistory",
        "JoinRefused",
        "Member",
        "MemberDown",
        "MemberEvent",
        "MemberLeft",
        "MemberReachable",
        "MemberUnreachable",
        "MemberUp",
        "PhiAccrualFailureDetector",
    ),
    "actors.ledger": (
        "GENESIS_HASH",
        "Checkpoint",
        "CheckpointNotFound",
        "Durability",
        "EpochError",
        "EpochNotFound",
        "Fault",
        "FaultKind",
        "InvalidPayload",
        "Ledger",
        "LedgerClosed",
        "LedgerConflict",
        "LedgerCorrupted",
        "LedgerError",
        "LedgerFull",
        "LedgerNotFound",
        "LedgerReader",
        "LedgerStatistics",
        "LedgerWriteError",
        "MemoryStore",
        "NotALedger",
        "Record",
        "Reducer",
        "Reducers",
        "ReplayError",
        "ReplayResult",
        "SQLiteStore",
        "Store",
        "StoreState",
        "VerifyReport",
        "open_ledger",
        "state_digest",
        "summary_reducers",
    ),
    "actors.roles": (
        "DEFAULT_THREAD_BUDGET",
        "JOB_EVENTS",
        "MAX_TADPOLE_COUNT",
        "MAX_THREADS",
        "MAX_THREADS_PER_TADPOLE",
        "RESOURCE_UPDATES",
        "Acceptance",
        "Acknowledge",
        "Acknowledged",
        "Acknowledgement",
        "AdmissionGate",
        "Allocation",
        "AwaitJob",
        "Balancer",
        "BalancerConfig",
        "BalancerRestarted",
        "BeatEntry",
        "CancelJob",
        "CancelRun",
        "Channel",
        "ConcurrencyWindow",
        "Crash",
        "CycleHook",
        "CycleReport",
        "DispatchPlanner",
        "DispatchSummary",
        "Dispatched",
        "GetJob",
        "GetLiveness",
        "GetStatistics",
        "GetSummary",
        "GetTadpoleStatus",
        "GetTadpoles",
        "Handler",
        "HandlerNotFound",
        "Heartbeat",
        "InvalidJob",
        "InvalidTask",
        "InvalidWeights",
        "JobContext",
        "JobEvent",
        "JobReport",
        "JobSpec",
        "JobState",
        "JobStateError",
        "JobSupervisor",
        "JobView",
        "Lineage",
        "ListJobs",
        "Liveness",
        "LivenessConfig",
        "LivenessReport",
        "PlanCycle",
        "PoolConfig",
        "RecordSink",
        "Refused",
        "Rejected",
        "ResourcePools",
        "ResourceRequest",
        "ResourceUpdate",
        "Resources",
        "Reward",
        "RoleError",
        "RunCycle",
        "RunJob",
        "ScoreWeights",
        "SetThreadBudget",
        "ShardLiveness",
        "SubmitJob",
        "SubmitTask",
        "Submitted",
        "SupervisorConfig",
        "SupervisorStatistics",
        "Tadpole",
        "TadpoleCrashed",
        "TadpoleInfo",
        "TadpoleRestarted",
        "TadpoleStatus",
        "Task",
        "TaskAccepted",
        "TaskRejected",
        "ThreadPool",
        "UnknownJob",
        "Verdict",
        "WindowConfig",
        "WindowShares",
        "acknowledge",
        "assess",
        "await_job",
        "bound_result",
        "job_table_reducers",
        "judge",
        "new_tadpole_id",
        "parse_job",
        "submit_job",
        "validate_job",
        "validate_task",
    ),
    "actors.node": (
        "LEDGER_FILE",
        "ConfigError",
        "NodeConfig",
        "NodeContext",
        "configure_logging",
        "gen_secret",
        "load_config",
        "main",
        "run_node",
    ),
    "actors.web": (
        "SESSION_COOKIE",
        "AlertRow",
        "DashboardSource",
        "HttpServer",
        "JobRow",
        "MemberLike",
        "MemberRow",
        "NodeSource",
        "build_app",
        "sparkline_path",
    ),
    "actors.ctl": (
        "ADMIN_NAME",
        "MAX_TAIL",
        "SPARKS",
        "ActorRow",
        "Actors",
        "Admin",
        "AdminClient",
        "AdminQuery",
        "AdminSources",
        "AlertRow",
        "Alerts",
        "BadQuery",
        "CtlError",
        "GetActors",
        "GetAlerts",
        "GetHeat",
        "GetJobs",
        "GetLeases",
        "GetOrderParameters",
        "GetStatus",
        "Heat",
        "HeatRow",
        "JobRow",
        "JobTrace",
        "Jobs",
        "LeaseRow",
        "Leases",
        "LedgerRecords",
        "LedgerReplay",
        "LedgerTail",
        "LedgerVerify",
        "MemberRow",
        "NoSuchJob",
        "NodeUnreachableError",
        "NotAQuery",
        "NotAuthenticated",
        "OrderParameters",
        "ParameterRow",
        "RecordRow",
        "Replayed",
        "SecretError",
        "Status",
        "TraceJob",
        "Unavailable",
        "Verified",
        "main",
        "read_secret",
        "sparkline",
        "spawn_admin",
        "table",
        "tls_transport",
    ),
    "actors.testing": (
        "Delivery",
        "Probe",
        "ProbeTimeout",
        "Simulation",
        "SimulationDeadlock",
        "SimulationError",
        "SimulationResult",
        "SimulationTimeout",
        "VirtualClock",
        "VirtualEventLoop",
        "seeds",
        "simulate",
    ),
    "actors.supervision": (
        "Backoff",
        "ChildSpec",
        "Directive",
        "Directives",
        "Restart",
        "RestartEngine",
        "Strategy",
        "SupervisorFlags",
    ),
    "protocol": (
        "DEFAULT_MAX_FRAME_SIZE",
        "FRAME_HEADER_SIZE",
        "HANDSHAKE_MAX_FRAME_SIZE",
        "MAX_NAME_LENGTH",
        "MIN_SECRET_BITS",
        "NONCE_SIZE",
        "PROTOCOL_VERSION",
        "SCHEMA_DIALECT",
        "AuthenticationFailed",
        "ClusterMismatch",
        "Codec",
        "DuplicateMessageTag",
        "Envelope",
        "EnvelopeCodec",
        "FrameReader",
        "FrameTooLarge",
        "FrameWriter",
        "FramingError",
        "Handshake",
        "HandshakeError",
        "HandshakeRole",
        "HandshakeStateError",
        "InvalidMessage",
        "MalformedEnvelope",
        "MalformedHandshake",
        "MalformedMessage",
        "Message",
        "MessageDefinitionError",
        "MessageKind",
        "MessageRegistry",
        "MessageTooLarge",
        "ProtocolError",
        "ProtocolVersionMismatch",
        "RemoteFailure",
        "RemoteProtocolError",
        "TruncatedFrame",
        "UnexpectedHandshakeMessage",
        "UnknownMessageType",
        "WeakSecret",
        "check_name",
        "cluster_key",
        "encode_frame",
        "export_schemas",
        "generate_secret",
        "registry",
        "secret_bits",
    ),
    "scheduler": (
        "EMPTY",
        "DequeStatistics",
        "DuplicateJobName",
        "Empty",
        "PeriodicJob",
        "PeriodicJobSpec",
        "PeriodicJobStatistics",
        "PeriodicRun",
        "PeriodicTable",
        "PoolClosed",
        "PoolNotStarted",
        "PoolStateError",
        "PoolStatistics",
        "SchedulerConfigError",
        "SchedulerError",
        "ShutdownPolicy",
        "WorkStealingDeque",
        "WorkStealingPool",
        "WorkerStatistics",
    ),
}


def _public_packages() -> list[str]:
    """Every importable public package and module: no part of its name starts with ``_``."""
    import actors

    found = [
        info.name
        for info in pkgutil.walk_packages(actors.__path__, "actors.")
        if not any(part.startswith("_") for part in info.name.split("."))
    ]
    return ["actors", *found, "protocol", "scheduler"]


def test_every_public_package_is_locked() -> None:
    unlocked = {}
    for package in _public_packages():
        module = importlib.import_module(package)
        if package not in EXPORTS and hasattr(module, "__all__"):
            unlocked[package] = tuple(module.__all__)
    assert not unlocked, f"lock these packages' __all__ in EXPORTS: {unlocked}"


@pytest.mark.parametrize("package", list(EXPORTS))
def test_all_is_exactly_the_locked_tuple(package: str) -> None:
    names = importlib.import_module(package).__all__
    expected = EXPORTS[package]
    added = sorted(set(names) - set(expected))
    removed = sorted(set(expected) - set(names))
    assert not added, f"{package}.__all__ gained {added}: add them to EXPORTS if intended"
    assert not removed, f"{package}.__all__ lost {removed}: remove them from EXPORTS if intended"
    assert isinstance(names, tuple), f"{package}.__all__ must be a tuple"
    assert names == expected, f"{package}.__all__ is reordered; keep it sorted as EXPORTS is"


@pytest.mark.parametrize("package", list(EXPORTS))
def test_public_names_point_at_their_public_package(package: str) -> None:
    module = importlib.import_module(package)
    wrong = {}
    for name in module.__all__:
        value = getattr(module, name)
        if not (isinstance(value, type) or inspect.isfunction(value)):
            continue
        if hasattr(value, "__struct_fields__"):
            continue  # msgspec resolves a Struct's annotations in its __module__'s namespace
        home = value.__module__
        private = [part for part in home.split(".") if part.startswith("_")]
        if home.startswith(("actors", "protocol", "scheduler")) and private:
            wrong[name] = home
    assert not wrong, f"{package}: public names whose __module__ is private: {wrong}"


def test_actor_system_lives_in_actors() -> None:
    import actors
    import protocol
    import scheduler

    assert actors.ActorSystem.__module__ == "actors"
    assert actors.Request.__module__ == "actors"
    assert actors.run.__module__ == "actors"
    assert actors.Overflow.__module__ == "actors"
    assert actors.Restart.__module__ == "actors.supervision"
    assert protocol.Codec.__module__ == "protocol"
    assert scheduler.WorkStealingPool.__module__ == "scheduler"


@pytest.mark.parametrize("package", list(EXPORTS))
def test_all_names_exist_and_are_unique(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"duplicates in {package}.__all__"
    for name in names:
        assert hasattr(module, name), f"{package}.__all__ lists missing {name!r}"
        assert not name.startswith("_")


@pytest.mark.parametrize("package", ["actors", "actors.lowlevel", "protocol"])
def test_every_public_class_of_the_package_is_exported(package: str) -> None:
    module = importlib.import_module(package)
    exported = set(module.__all__)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and isinstance(value, type)
        and value.__module__.startswith(package)
    }
    assert public <= exported


PLUMBING = (
    "attach_remote",
    "detach_remote",
    "register",
    "unregister",
    "cell_at",
    "create_actor_task",
    "spawn_background",
    "delivery_observer",
    "check_running",
    "correlation_ids",
    "logs_info",
)
"""What ``ActorSystem`` once offered its cells and wings among its public members."""


def test_the_actor_system_keeps_its_plumbing_private() -> None:
    from actors import ActorSystem

    system = ActorSystem("plain")
    leaked = [name for name in PLUMBING if hasattr(system, name)]
    assert not leaked, f"ActorSystem offers runtime plumbing publicly: {leaked}"


def test_the_low_level_door_offers_what_the_wings_need() -> None:
    from actors import lowlevel

    needed = {"cell_at", "cell_of", "attach_remote", "detach_remote", "spawn_background"}
    needed |= {"check_running", "next_correlation_id", "PendingAsk", "ActorCell"}
    needed |= {"add_delivery_filter", "delivery_filters", "filter_statistics"}
    assert needed <= set(lowlevel.__all__)
