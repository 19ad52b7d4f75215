"""The ACD service: callers wait in queues, agents on SIP phones take their calls.

:class:`QueueService` drives the pure engine of :mod:`ccpbx.acd` from Asterisk events
and connects callers to agents (:mod:`ccpbx.callcontrol`); its live state is a
:class:`~ccpbx.queues.floor.QueueFloor`, changed only by its worker
(:mod:`ccpbx.queues.worker`); :mod:`ccpbx.queues.features` holds its FastAGI scripts
(``queue``, ``phone``); :mod:`ccpbx.queues.store` its tables; :mod:`ccpbx.queues.model`
the data every part shares.
"""

from ccpbx.queues.model import AgentRecord, QueueSpec
from ccpbx.queues.service import CallAttributes, QueueService

__all__ = ["AgentRecord", "CallAttributes", "QueueService", "QueueSpec"]
