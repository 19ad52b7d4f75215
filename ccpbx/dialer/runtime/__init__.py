"""The live campaign runtime: leases contacts, places calls through Asterisk, hands live
answers to agents through the ACD, records every outcome once.

Pure parts: :mod:`.book` (calls in flight, abandon ledger), :mod:`.snapshot` (what the
pacer sees, built from the ACD's agents), :mod:`.settle` (what an attempt's outcome is
after a restart), :mod:`.gate` (may the campaign lease and dial now). Async parts:
:mod:`.runner` (one campaign), :mod:`.service` (all campaigns of a node, the control
surface the HTTP API uses).
"""
