"""The swarm's roles: tadpoles run jobs, the balancer dispatches them, the supervisor owns outcomes.

* :class:`Tadpole`: a worker actor with a uuid4 id and a specialization; runs
  job handlers (async, or sync in threads within its budget) and heartbeats.
* :class:`Balancer`: scores tasks, dispatches them to the ``strict``,
  ``balanced`` and ``creative`` channels under quotas, with lineage.
* :class:`JobSupervisor`: validated intake, resource pools, the job
  lifecycle, liveness, the concurrency window; an OTP supervisor of its tadpoles.

See the "Swarm roles" page of the docs for every rule and number.
"""

from protocol._public import publish as _publish_names

from ._balancer import Balancer as Balancer
from ._balancer import CycleHook as CycleHook
from ._balancer import CycleReport as CycleReport
from ._balancer import DispatchSummary as DispatchSummary
from ._errors import HandlerNotFound as HandlerNotFound
from ._errors import InvalidJob as InvalidJob
from ._errors import InvalidTask as InvalidTask
from ._errors import InvalidWeights as InvalidWeights
from ._errors import JobStateError as JobStateError
from ._errors import RoleError as RoleError
from ._errors import TadpoleCrashed as TadpoleCrashed
from ._errors import UnknownJob as UnknownJob
from ._jobs import MAX_TADPOLE_COUNT as MAX_TADPOLE_COUNT
from ._jobs import Acknowledgement as Acknowledgement
from ._jobs import JobEvent as JobEvent
from ._jobs import JobSpec as JobSpec
from ._jobs import JobState as JobState
from ._jobs import JobView as JobView
from ._jobs import ResourceRequest as ResourceRequest
from ._jobs import parse_job as parse_job
from ._jobs import validate_job as validate_job
from ._liveness import Liveness as Liveness
from ._liveness import LivenessConfig as LivenessConfig
from ._liveness import LivenessReport as LivenessReport
from ._liveness import assess as assess
from ._messages import JOB_EVENTS as JOB_EVENTS
from ._messages import RESOURCE_UPDATES as RESOURCE_UPDATES
from ._messages import Acknowledge as Acknowledge
from ._messages import Acknowledged as Acknowledged
from ._messages import AwaitJob as AwaitJob
from ._messages import BalancerRestarted as BalancerRestarted
from ._messages import BeatEntry as BeatEntry
from ._messages import CancelJob as CancelJob
from ._messages import CancelRun as CancelRun
from ._messages import Crash as Crash
from ._messages import GetJob as GetJob
from ._messages import GetLiveness as GetLiveness
from ._messages import GetStatistics as GetStatistics
from ._messages import GetSummary as GetSummary
from ._messages import GetTadpoles as GetTadpoles
from ._messages import GetTadpoleStatus as GetTadpoleStatus
from ._messages import Heartbeat as Heartbeat
from ._messages import JobReport as JobReport
from ._messages import ListJobs as ListJobs
from ._messages import PlanCycle as PlanCycle
from ._messages import Refused as Refused
from ._messages import Rejected as Rejected
from ._messages import ResourceUpdate as ResourceUpdate
from ._messages import Reward as Reward
from ._messages import RunCycle as RunCycle
from ._messages import RunJob as RunJob
from ._messages import SetThreadBudget as SetThreadBudget
from ._messages import ShardLiveness as ShardLiveness
from ._messages import SubmitJob as SubmitJob
from ._messages import SubmitTask as SubmitTask
from ._messages import Submitted as Submitted
from ._messages import SupervisorStatistics as SupervisorStatistics
from ._messages import TadpoleInfo as TadpoleInfo
from ._messages import TadpoleRestarted as TadpoleRestarted
from ._messages import TadpoleStatus as TadpoleStatus
from ._messages import TaskAccepted as TaskAccepted
from ._messages import TaskRejected as TaskRejected
from ._outcome import Acceptance as Acceptance
from ._outcome import Verdict as Verdict
from ._outcome import bound_result as bound_result
from ._outcome import judge as judge
from ._planner import BalancerConfig as BalancerConfig
from ._planner import Dispatched as Dispatched
from ._planner import DispatchPlanner as DispatchPlanner
from ._planner import Lineage as Lineage
from ._planner import WindowShares as WindowShares
from ._records import RecordSink as RecordSink
from ._records import job_table_reducers as job_table_reducers
from ._resources import Allocation as Allocation
from ._resources import PoolConfig as PoolConfig
from ._resources import ResourcePools as ResourcePools
from ._resources import Resources as Resources
from ._scoring import Channel as Channel
from ._scoring import ScoreWeights as ScoreWeights
from ._scoring import Task as Task
from ._scoring import validate_task as validate_task
from ._supervisor import JobSupervisor as JobSupervisor
from ._supervisor import SupervisorConfig as SupervisorConfig
from ._supervisor import acknowledge as acknowledge
from ._supervisor import await_job as await_job
from ._supervisor import submit_job as submit_job
from ._tadpole import DEFAULT_THREAD_BUDGET as DEFAULT_THREAD_BUDGET
from ._tadpole import MAX_THREADS as MAX_THREADS
from ._tadpole import MAX_THREADS_PER_TADPOLE as MAX_THREADS_PER_TADPOLE
from ._tadpole import Handler as Handler
from ._tadpole import JobContext as JobContext
from ._tadpole import Tadpole as Tadpole
from ._tadpole import ThreadPool as ThreadPool
from ._tadpole import new_tadpole_id as new_tadpole_id
from ._window import AdmissionGate as AdmissionGate
from ._window import ConcurrencyWindow as ConcurrencyWindow
from ._window import WindowConfig as WindowConfig

__all__ = (
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
)

_publish_names(__name__, globals(), __all__)
