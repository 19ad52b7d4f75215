"""Persistent agents after an Asterisk restart: called back, or logged out with a reason."""

from __future__ import annotations

from ccpbx.acd import AgentMode, AgentState
from ccpbx.callcontrol.persistent import AgentLeg
from ccpbx.callcontrol.reconnect import ReconnectPolicy, registered
from ccpbx.queues.reconnects import RECONNECTING

from .test_service_logic import Clock, login, service, settle


def test_policy_tries_at_once_then_backs_off_and_gives_up() -> None:
    """The first try is at once, the pauses double up to a cap, and the tries are bounded."""
    policy = ReconnectPolicy(tries=5, first_pause_s=1.0, max_pause_s=3.0)
    assert [policy.pause_before(n) for n in range(6)] == [0.0, 1.0, 2.0, 3.0, 3.0, None]


def test_registered_needs_a_contact_asterisk_can_call() -> None:
    """An endpoint is callable when one of its contacts has a URI and is not unreachable."""
    reachable = {"URI": "sip:1006@127.0.0.1:5070", "Status": "NonQualified"}
    gone = {"URI": "sip:1006@127.0.0.1:5071", "Status": "Unreachable"}
    assert registered([reachable])
    assert registered([gone, reachable])
    assert not registered([gone])
    assert not registered([])
    assert not registered([{"Status": "Reachable"}])


def _connected(svc: object, agent: str) -> None:
    persistent = svc.persistent  # type: ignore[attr-defined]
    leg = AgentLeg(agent, agent, f"ccpbx-agent-{agent}-0123456789ab", f"PJSIP/{agent}-1", 1.0)
    persistent._legs[agent] = leg
    persistent._by_uniqueid[leg.uniqueid] = agent


async def test_restart_pauses_persistent_agents_until_their_phone_is_back() -> None:
    """After a reconnect to a restarted Asterisk, a persistent agent whose leg is gone stays
    logged in, paused "reconnecting" (shown as such) while its phone is called back; when
    the phone does not come back it is logged out with the reason. A ring-mode agent
    (no leg) stays as it was."""
    clock = Clock()
    svc = service(clock)
    svc.reconnect_policy = ReconnectPolicy(tries=2, first_pause_s=0.01, link_wait_s=0.05)
    login(svc, "21", AgentMode.PERSISTENT, clock.now)
    login(svc, "22", AgentMode.RING, clock.now)
    _connected(svc, "21")
    svc.worker.handle("reconcile", True)
    agent = svc.state.agents["21"]
    assert (agent.state, agent.pause_reason) == (AgentState.PAUSED, RECONNECTING)
    assert "21" in svc.reconnecting
    assert svc.agent_view("21")["connection"] == "reconnecting"
    assert svc.persistent.leg("21") is None  # forgotten, never hung up by its old name
    status = svc.status()
    assert "agents_reconnecting" in status.detail
    await settle(svc)  # the AMI client never connects: every try fails
    assert svc.state.agents["21"].state is AgentState.LOGGED_OUT
    assert "21" not in svc.reconnecting
    view = svc.agent_view("21")
    assert view["logout_reason"].startswith("phone_lost")
    assert view["connection"] == "none"
    assert svc.state.agents["22"].state is AgentState.AVAILABLE


async def test_leg_gone_without_a_restart_logs_the_agent_out() -> None:
    """A persistent leg missing after a plain reconnect (same Asterisk) was hung up while
    ccpbx could not see it: the agent is logged out at once, with the reason."""
    clock = Clock()
    svc = service(clock)
    login(svc, "21", AgentMode.PERSISTENT, clock.now)
    _connected(svc, "21")
    svc.worker.handle("reconcile", False)
    assert svc.state.agents["21"].state is AgentState.LOGGED_OUT
    assert "21" not in svc.reconnecting
    assert svc.logout_reasons["21"].startswith("phone_lost")
