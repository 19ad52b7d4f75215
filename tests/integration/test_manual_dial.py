"""Manual outbound calls from the agent panel (POST /api/agents/{agent}/call/dial) on
the real daemon, Asterisk, PostgreSQL and a SIPp carrier: refused for a do-not-call
number, outside the recipient's calling window and above the phone's class of service
(each audited, nothing dialed); allowed, the carrier gets the INVITE From the company
caller ID. Sandbox phones: 1010 has class ``local``, 1011 ``international``."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Iterator

import aiohttp
import pytest

from ccpbx.acd import AgentState
from ccpbx.config import Config, DialingConfig
from ccpbx.daemon import Daemon
from ccpbx.pbx import trunks
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.sandbox.carrier import Carrier
from ccpbx.store import dnc
from ccpbx.store.tokens import TokenRepository

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones

COMPANY = "+12125550100"
LONDON = "+442071234567"
NEW_YORK = "+12125550123"
BLOCKED = "+12125550177"
# 17:00 UTC: noon in New York, 17:00 in London (both inside 08:00-21:00).
NOON_NY = dt.datetime(2026, 3, 2, 17, 0, tzinfo=dt.UTC).timestamp()
# 03:00 UTC: 22:00 in New York (outside), 03:00 in London (outside).
NIGHT_NY = dt.datetime(2026, 3, 3, 3, 0, tzinfo=dt.UTC).timestamp()


def company(config: Config) -> Config:
    dialing = DialingConfig(local_prefixes=("212",), caller_id=COMPANY, caller_name="ACME")
    return dataclasses.replace(config, dialing=dialing)


@pytest.fixture
def carrier(asterisk: AsteriskInstance) -> Iterator[Carrier]:
    """The SIPp carrier, answering every call and hanging up after 2 s."""
    with Carrier(asterisk, answer_pct=100, busy_pct=0, congestion_pct=0, talk_s=2.0) as running:
        yield running


async def refusals(daemon: Daemon) -> list[tuple[str, str, str]]:
    rows = await daemon.database.pool.fetch(
        """SELECT action, object_id, details ->> 'reason' AS reason FROM audit_log
           WHERE action LIKE 'call.manual_dial%' ORDER BY id"""
    )
    return [(r["action"], r["object_id"], r["reason"] or "") for r in rows]


async def test_manual_dial_checks_dnc_window_and_class_then_calls_out(
    asterisk: AsteriskInstance, start_daemon: StartDaemon, carrier: Carrier
) -> None:
    """Agent 1010 (local phone) is refused a DNC number (dnc), a New York number at 22:00
    there (outside_calling_window) and London (class_too_low); agent 1011 (international)
    calls London at 17:00 there: the carrier gets one INVITE From the company number; a
    1010 token cannot dial for 1011 (403); every refusal and the call are audited."""
    daemon = await start_daemon(config=company)
    await daemon.acd.wait_ready(20)
    await trunks.add(daemon.database.pool, asterisk.settings.carrier())
    await add_queue(daemon, "out")
    for agent in ("1010", "1011"):
        await add_agent(daemon, agent, ["out"])
    await dnc.add(daemon.database.pool, BLOCKED, source="test")
    repo = TokenRepository(daemon.database.pool)
    tok = {a: (await repo.create("agent", a, subject=a))[0] for a in ("1010", "1011")}
    base = f"http://127.0.0.1:{daemon.http_port}"
    with desk_phones(asterisk, ["1010", "1011"]):
        for agent in ("1010", "1011"):
            await daemon.acd.login(agent, agent)
        await eventually(
            lambda: all(
                daemon.acd.state.agents[a].state is AgentState.AVAILABLE for a in ("1010", "1011")
            ),
            20,
        )
        async with aiohttp.ClientSession() as http:

            async def dial(agent: str, as_: str, number: str) -> tuple[int, dict[str, object]]:
                async with http.post(
                    f"{base}/api/agents/{agent}/call/dial",
                    json={"number": number},
                    headers={"Authorization": f"Bearer {tok[as_]}"},
                ) as resp:
                    return resp.status, await resp.json()

            daemon.manual_dial.clock = lambda: NOON_NY
            status, body = await dial("1010", "1010", BLOCKED)
            assert (status, body["error_id"]) == (403, "dnc")
            status, body = await dial("1010", "1010", LONDON)
            assert (status, body["error_id"]) == (403, "class_too_low")
            daemon.manual_dial.clock = lambda: NIGHT_NY
            status, body = await dial("1010", "1010", NEW_YORK)
            assert (status, body["error_id"]) == (403, "outside_calling_window")
            status, body = await dial("1011", "1010", LONDON)
            assert status == 403
            await asyncio.sleep(1.0)  # an INVITE sent by mistake would reach the carrier by now
            assert carrier.log() == []

            daemon.manual_dial.clock = lambda: NOON_NY
            status, body = await dial("1011", "1011", LONDON)
            assert status == 200, body
            assert body["number"] == LONDON
            await eventually(lambda: carrier.numbers() == {LONDON: 1}, 15)
            assert [c.caller for c in carrier.log()] == [COMPANY]
    assert await refusals(daemon) == [
        ("call.manual_dial_refused", BLOCKED, "dnc"),
        ("call.manual_dial_refused", LONDON, "class_too_low"),
        ("call.manual_dial_refused", NEW_YORK, "outside_calling_window"),
        ("call.manual_dial", LONDON, ""),
    ]
