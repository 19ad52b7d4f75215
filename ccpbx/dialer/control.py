"""What the HTTP API and the keypad desk need from the campaign runner.

The runner (``ccpbx.dialer.runtime``) implements this; the campaign and
disposition routes (:mod:`ccpbx.http.routes_dialer`) and the DTMF desk
(:class:`ccpbx.dialer.dispositions.DispositionDesk`) only know this Protocol.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Protocol


class DialerControl(Protocol):
    def campaigns_view(self) -> list[dict[str, Any]]:
        """Live figures of every campaign (plain JSON-able data)."""
        ...

    def campaign_view(self, name: str) -> dict[str, Any]:
        """Live figures of one campaign; ``NotFound`` if there is none of that name."""
        ...

    async def start_campaign(self, name: str) -> dict[str, Any]:
        """Start (or resume) dialing the campaign; its view afterwards."""
        ...

    async def pause_campaign(self, name: str) -> dict[str, Any]:
        """Stop placing new calls (calls in progress go on); its view afterwards."""
        ...

    def attempt_of_agent(self, agent: str) -> uuid.UUID | None:
        """The attempt whose call the agent is on or wrapping up, None if none."""
        ...

    def agent_of_channel(self, uniqueid: str) -> str | None:
        """The agent whose persistent leg has this uniqueid (or channel name), else None."""
        ...

    async def dispose(
        self,
        agent: str,
        code: str,
        *,
        callback_at: datetime | None = None,
        callback_for_agent: bool = False,
        note: str = "",
    ) -> dict[str, Any]:
        """Give the agent's current attempt (see ``attempt_of_agent``) disposition ``code``.

        ``callback_at`` None for a callback disposition means its default delay
        (``dispositions.callback_delay_s``: the keypad cannot enter a time; the HTTP
        API asks for a time before calling this). ``callback_for_agent``: the
        callback is reserved for this agent, else anyone may take it. Implement with
        :func:`ccpbx.dialer.dispositions.dispose_attempt`; raise
        :class:`ccpbx.dialer.dispositions.NoCallToDispose` when the agent has no
        attempt, and end the agent's wrap-up as the campaign's rules say.
        """
        ...

    def preview(self, agent: str) -> dict[str, Any] | None:
        """The contact a preview campaign shows the agent before dialing, None if none."""
        ...

    async def preview_action(self, agent: str, action: str) -> dict[str, Any]:
        """``"dial"`` the agent's preview (the agent stays reserved for it) or ``"skip"``
        it (not dialed, back to the list); ``NotFound`` when the agent has none."""
        ...
