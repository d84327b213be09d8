"""Helpers for testing your own actors, and for simulating them on virtual time.

* :class:`Probe`: a stand-in recipient that records what it receives and
  lets a test ``expect`` a message with a timeout that fails instead of hanging.
* :func:`simulate`: run an async scenario on a :class:`VirtualEventLoop`
  (time jumps to the next timer whenever every task waits) with a seeded
  ``random.Random``; get its result and a digest of every delivered message.
  The same seed replays the same run; a failure names its seed.
* :func:`seeds`: a Hypothesis strategy, so Hypothesis picks the seeds.

See the how-to "Testing your actors on virtual time" in the docs.
"""

from protocol._public import publish as _publish_names

from ._clock import VirtualClock as VirtualClock
from ._errors import ProbeTimeout as ProbeTimeout
from ._errors import SimulationDeadlock as SimulationDeadlock
from ._errors import SimulationError as SimulationError
from ._errors import SimulationTimeout as SimulationTimeout
from ._loop import VirtualEventLoop as VirtualEventLoop
from ._probe import Probe as Probe
from ._seeds import seeds as seeds
from ._simulation import Simulation as Simulation
from ._simulation import SimulationResult as SimulationResult
from ._simulation import simulate as simulate
from ._trace import Delivery as Delivery

__all__ = (
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
)

_publish_names(__name__, globals(), __all__)
