"""Places a campaign's calls: leases leads and sends Asterisk one Originate for each.

Runs on the placing and reserving tasks, never on the worker; what it did goes back
to the worker as inputs (``feed``): ``placed`` (marked dialing, or given back),
``sent`` (the Originate was written), ``not_sent``, ``dial_failed``, ``leased_fewer``
and ``unplaced``. The last word on whether a lead is called is taken just before its
call would be sent: the AMI link must be up, and the calling window must be open in
every time zone of the number (the lead may have waited since it was leased; see
:func:`ccpbx.store.phones.calling_window_open`). Otherwise the lead goes back as
``not_dialed``, never marked dialing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from ccpbx.ami import AmiClient
from ccpbx.ami.errors import AmiActionError, AmiNotConnected
from ccpbx.dialer.runtime.settings import OUTBOUND_CONTEXT, Pool, RunnerSettings, utc
from ccpbx.errors import CcpbxError
from ccpbx.queues.service import CallAttributes, QueueService
from ccpbx.store import attempts as store_attempts
from ccpbx.store.campaigns import Campaign
from ccpbx.store.leasing import LeasedLead, lease
from ccpbx.store.phones import calling_window_open

log = structlog.get_logger(__name__)
Feed = Callable[[str, Any], None]


def originate_fields(
    campaign: Campaign, settings: RunnerSettings, queue: str, lead: LeasedLead
) -> dict[str, Any]:
    """The Originate action's fields for a lead (pure): the channel's uniqueid is the
    attempt id, and the answered call goes to the campaign's queue."""
    key = str(lead.attempt_id)
    stored = campaign.settings
    return {
        "Channel": stored.dial_string_template.format(number=lead.e164, trunk=stored.trunk),
        "Context": OUTBOUND_CONTEXT,
        "Exten": queue,
        "Priority": "1",
        "ChannelId": key,
        "CallerID": stored.caller_id,
        "Timeout": str(stored.ring_timeout_s * 1000),
        "Variable": [
            f"CCPBX_ATTEMPT={key}",
            f"CCPBX_CAMPAIGN={campaign.id}",
            f"CCPBX_AMD={1 if stored.amd_enabled else 0}",
            f"CCPBX_MACHINE={stored.machine_action}",
            f"CCPBX_ABANDON_PROMPT={settings.abandon_prompt}",
            f"CCPBX_MACHINE_PROMPT={settings.machine_prompt}",
        ],
        "Async": "true",
    }


class Placer:
    """Leases and dials one campaign's leads (see the module docstring)."""

    def __init__(
        self,
        campaign: Campaign,
        queue: str,
        *,
        ami: AmiClient,
        acd: QueueService,
        pool: Pool,
        dialer_id: str,
        settings: RunnerSettings,
        clock: Callable[[], float],
        feed: Feed,
    ) -> None:
        self.campaign = campaign
        self.queue = queue
        self._ami = ami
        self._acd = acd
        self._pool = pool
        self.dialer_id = dialer_id
        self.settings = settings
        self._clock = clock
        self._feed = feed

    async def lease(self, n: int, *, callbacks_only: bool = False) -> list[LeasedLead]:
        return await lease(
            self._pool(),
            self.campaign.id,
            n,
            utc(self._clock()),
            dialer_id=self.dialer_id,
            callbacks_only=callbacks_only,
        )

    async def place(self, n: int) -> None:
        """Lease up to ``n`` leads (the worker counted them as reserved) and dial them."""
        leads: list[LeasedLead] = []
        if not self._ami.ready:  # the link went down since the decision: lease nothing
            self._feed("unplaced", n)
            return
        try:
            leads = await self.lease(n)
        except CcpbxError as exc:
            log.warning("dialer_lease_failed", campaign=self.campaign.name, error=exc.message)
        except Exception as exc:
            log.warning("dialer_lease_failed", campaign=self.campaign.name, error=repr(exc))
        if len(leads) < n:
            self._feed("leased_fewer", n - len(leads))
        for lead in leads:
            await self.dial(lead)

    async def dial(self, lead: LeasedLead, *, held: str | None = None) -> None:
        """Dial one leased lead (``held``: the agent reserved for it in the ACD)."""
        key = str(lead.attempt_id)
        if not self._ami.ready:
            # Asterisk cannot be told: the lead goes back untouched, never marked dialing.
            await self.give_back(lead, held, "not sent")
            return
        now = self._clock()
        if not calling_window_open(lead.time_zones, self.campaign.settings.window, utc(now)):
            # The window closed while the lead waited: not called; the lease defers it.
            log.info("dialer_window_closed", campaign=self.campaign.name, attempt_id=key)
            await self.give_back(lead, held, "window closed")
            return
        try:
            # Written before Asterisk hears of the call: an attempt never marked dialing
            # was never dialed, and may be given back as not_dialed.
            await store_attempts.mark_progress(
                self._pool(), lead.attempt_id, "dialing", utc(self._clock()), uniqueid=key
            )
        except Exception as exc:
            log.warning("dialer_mark_dialing_failed", attempt_id=key, error=repr(exc))
            self._feed("placed", (lead, "not marked", held))
            if held is not None:
                await self._acd.release_outbound(key)
            return
        self._feed("placed", (lead, None, held))
        # A ring-mode agent's phone shows the customer, not the campaign's caller ID.
        priority = self.settings.outbound_priority if held is None else 0
        self._acd.expect_call(
            key, CallAttributes(priority=priority, shown_number=lead.e164, shown_name=lead.name)
        )
        sent_at = self._clock()
        try:
            await self._ami.action(
                "Originate",
                **originate_fields(self.campaign, self.settings, self.queue, lead),
                timeout=10,
            )
        except AmiNotConnected as exc:
            # Refused before anything was written: nobody was called.
            log.warning("dialer_originate_not_sent", attempt_id=key, error=str(exc))
            self._feed("not_sent", key)
            return
        except AmiActionError as exc:
            # Asterisk refused the Originate: nothing was dialed.
            log.warning("dialer_originate_refused", attempt_id=key, error=exc.message)
            self._feed("dial_failed", (key, "failed"))
        except Exception as exc:
            # Not known whether Asterisk placed it: the OriginateResponse, a restart of
            # Asterisk or, failing both, the sweep (no channel after the ring timeout)
            # settles it.
            log.warning("dialer_originate_unknown", attempt_id=key, error=repr(exc))
        # The channel is (instance, uniqueid): name the instance the action went to.
        self._feed("sent", (key, sent_at, str(self._ami.instance)))

    async def give_back(self, lead: LeasedLead, held: str | None, why: str) -> None:
        """The lead is not dialed: back to the list at once (``not_dialed``)."""
        key = str(lead.attempt_id)
        try:
            await store_attempts.record_outcome(
                self._pool(), lead.attempt_id, "not_dialed", utc(self._clock())
            )
        except Exception as exc:  # its lease lapses; reconciliation finds it never dialed
            log.warning("dialer_give_back_failed", attempt_id=key, error=repr(exc))
        self._feed("placed", (lead, why, held))
        if held is not None:
            await self._acd.release_outbound(key)
