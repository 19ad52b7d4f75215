"""The live campaign runtime: leases contacts, places calls through Asterisk, hands live
answers to agents through the ACD, records every outcome once.

Pure parts: :mod:`.book` (calls in flight, abandon ledger), :mod:`.snapshot` (what the
pacer sees, built from the ACD's agents), :mod:`.settle` (what an attempt's outcome is
after a restart), :mod:`.gate` (may the campaign lease and dial now), :mod:`.state`
(what a runner knows of its calls), :mod:`.settings`. Synchronous on the runner's
worker: :mod:`.follow` (what Asterisk's and the ACD's events mean for each call).
Async parts: :mod:`.placing` (lease, Originate), :mod:`.reserving` (callbacks and
previews that get their agent first), :mod:`.recovery` (taking over after a
restart), :mod:`.runner` (one campaign: sequences the others), :mod:`.service` (all
campaigns of a node, the control surface the HTTP API uses), :mod:`.call_records`
(the outbound call records, written through the runner's ordered writer).
:mod:`.records` holds the runtime's own SQL.
"""
