"""The operator's view of a running node: the admin actor and ``tadpole-ctl``.

Each node runs an :class:`Admin` actor at ``/user/admin``
(:data:`ADMIN_NAME`) that answers typed queries (:data:`AdminQuery`: status,
actors, jobs, a job's trace, leases, heat, alerts, order parameters, the
ledger's tail, verify and replay) over the same authenticated connection the
nodes use. :class:`AdminSources` says where it reads them. The command line
(``tadpole-ctl``, or ``python -m actors.ctl``) is a client of it:
:class:`AdminClient` dials the node with the cluster secret and asks.

See the "Command-line tool" section of the operations docs.
"""

from protocol._public import publish as _publish_names

from ._admin import ADMIN_NAME as ADMIN_NAME
from ._admin import Admin as Admin
from ._admin import NotAQuery as NotAQuery
from ._admin import spawn_admin as spawn_admin
from ._cli import main as main
from ._client import AdminClient as AdminClient
from ._client import CtlError as CtlError
from ._client import NodeUnreachableError as NodeUnreachableError
from ._client import NotAuthenticated as NotAuthenticated
from ._client import SecretError as SecretError
from ._client import read_secret as read_secret
from ._client import tls_transport as tls_transport
from ._format import SPARKS as SPARKS
from ._format import sparkline as sparkline
from ._format import table as table
from ._queries import MAX_TAIL as MAX_TAIL
from ._queries import ActorRow as ActorRow
from ._queries import Actors as Actors
from ._queries import AdminQuery as AdminQuery
from ._queries import AlertRow as AlertRow
from ._queries import Alerts as Alerts
from ._queries import BadQuery as BadQuery
from ._queries import GetActors as GetActors
from ._queries import GetAlerts as GetAlerts
from ._queries import GetHeat as GetHeat
from ._queries import GetJobs as GetJobs
from ._queries import GetLeases as GetLeases
from ._queries import GetOrderParameters as GetOrderParameters
from ._queries import GetStatus as GetStatus
from ._queries import Heat as Heat
from ._queries import HeatRow as HeatRow
from ._queries import JobRow as JobRow
from ._queries import Jobs as Jobs
from ._queries import JobTrace as JobTrace
from ._queries import LeaseRow as LeaseRow
from ._queries import Leases as Leases
from ._queries import LedgerRecords as LedgerRecords
from ._queries import LedgerReplay as LedgerReplay
from ._queries import LedgerTail as LedgerTail
from ._queries import LedgerVerify as LedgerVerify
from ._queries import MemberRow as MemberRow
from ._queries import NoSuchJob as NoSuchJob
from ._queries import OrderParameters as OrderParameters
from ._queries import ParameterRow as ParameterRow
from ._queries import RecordRow as RecordRow
from ._queries import Replayed as Replayed
from ._queries import Status as Status
from ._queries import TraceJob as TraceJob
from ._queries import Unavailable as Unavailable
from ._queries import Verified as Verified
from ._sources import AdminSources as AdminSources

__all__ = (
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
)

_publish_names(__name__, globals(), __all__)
