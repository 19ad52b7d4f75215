"""Call detail records of inbound calls: the pure book (which event fills which column)
and the recorder that feeds it from AMI and ACD events and writes ``call_records``.

Outbound records are the dialer's (``ccpbx.dialer.runtime``); this package never
writes them.
"""

from ccpbx.cdr.book import INBOUND_CONTEXT, CdrBook, Draft
from ccpbx.cdr.recorder import CallRecorder

__all__ = ["INBOUND_CONTEXT", "CallRecorder", "CdrBook", "Draft"]
