"""The ACD service: callers wait in queues, agents on SIP phones take their calls.

:class:`QueueService` drives the pure engine of :mod:`ccpbx.acd` from Asterisk events
and connects callers to agents (:mod:`ccpbx.callcontrol`); :mod:`ccpbx.queues.features`
holds its FastAGI scripts (``queue``, ``phone``); :mod:`ccpbx.queues.store` its tables.
"""

from ccpbx.queues.model import AgentRecord, QueueSpec
from ccpbx.queues.service import CallAttributes, QueueService

__all__ = ["AgentRecord", "CallAttributes", "QueueService", "QueueSpec"]
