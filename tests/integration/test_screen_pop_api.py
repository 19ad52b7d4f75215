"""Screen pops on the real daemon, Asterisk and PostgreSQL: the pop an agent gets when
the ACD offers it a caller (number, contact, IVR entries), the route's access rules and
the websocket that carries a pop to its own agent (and supervisors) only."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aiohttp

from ccpbx.acd import AgentState
from ccpbx.daemon import Daemon
from ccpbx.sandbox.asterisk import AsteriskInstance
from ccpbx.store.contacts import add_contact, create_list
from ccpbx.store.phones import Phone
from ccpbx.store.tokens import TokenRepository

from .conftest import StartDaemon, eventually
from .test_acd_support import add_agent, add_queue, desk_phones

CALLER = "+15550123456"


async def caller_with_id(daemon: Daemon, queue: str, call_id: str, number: str) -> None:
    """A test caller (Local channel) with caller ID ``number`` waiting in ``queue``."""
    await daemon.ami.action(
        "Originate",
        Channel=f"Local/{queue}@ccpbx-queue-wait",
        Application="Wait",
        Data="600",
        CallerID=f'"Ada L" <{number}>',
        ChannelId=f"out-{call_id}",
        OtherChannelId=call_id,
        Async="true",
        timeout=10,
    )


async def seed_ivr_call(daemon: Daemon, call_id: str) -> None:
    """What the IVR records for a caller who keyed account 123456, and the contact."""
    db = daemon.database.pool
    lst = await create_list(db, "pop-test")
    await add_contact(
        db,
        lst.id,
        [Phone(CALLER, ("America/New_York",))],
        name="Ada Lovelace",
        now=dt.datetime.now(dt.UTC),
    )
    version_id = await db.fetchval(
        """INSERT INTO ivr_flow_versions (flow, version, source, checksum)
           VALUES ('accounts', 1, 'flow: accounts', 'pop-test') RETURNING id"""
    )
    now = dt.datetime.now(dt.UTC)
    ivr_id = await db.fetchval(
        """INSERT INTO ivr_calls (uniqueid, did, caller, flow, version_id, started_at, ended_at,
                                  outcome, end_node, variables)
           VALUES ($1, '18005550101', $2, 'accounts', $3, $4, $4, 'queued', 'q', $5::jsonb)
           RETURNING id""",
        call_id,
        CALLER,
        version_id,
        now,
        json.dumps({"account": "123456"}),
    )
    await db.execute(
        """INSERT INTO ivr_call_steps (call_id, seq, node, kind, entered_at, digits)
           VALUES ($1, 0, 'account', 'input', $2, '123456')""",
        ivr_id,
        now,
    )


async def drain_until(ws: aiohttp.ClientWebSocketResponse, done: Any) -> list[dict[str, Any]]:
    """Every item up to and including the first for which ``done(item)`` holds."""
    seen = []
    while True:
        item = await ws.receive_json(timeout=15)
        seen.append(item)
        if done(item):
            return seen


async def test_offered_caller_pops_on_its_agent_only(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """The ACD puts a caller who keyed account 123456 in the IVR through to agent 1001:
    1001's socket and a supervisor's get the pop (number, contact name, account), 1002's
    socket never does; GET screen-pop gives 1001 the same pop, 403 to 1002's token for
    1001, and 404 no_call to 1002 who has no call."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    await add_queue(daemon, "accounts")
    for agent in ("1001", "1002"):
        await add_agent(daemon, agent, ["accounts"])
    repo = TokenRepository(daemon.database.pool)
    tok = {
        "1001": (await repo.create("agent", "a1", subject="1001"))[0],
        "1002": (await repo.create("agent", "a2", subject="1002"))[0],
        "sup": (await repo.create("supervisor", "sup"))[0],
    }
    call_id = "pop-caller-1"
    await seed_ivr_call(daemon, call_id)
    base = f"http://127.0.0.1:{daemon.http_port}"
    with desk_phones(asterisk, ["1001", "1002"]):
        async with aiohttp.ClientSession() as http:
            sockets = {
                name: await http.ws_connect(f"{base}/api/events?token={t}")
                for name, t in tok.items()
            }
            for ws in sockets.values():
                assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
            await daemon.acd.login("1001", "1001")
            await eventually(
                lambda: daemon.acd.state.agents["1001"].state is AgentState.AVAILABLE, 20
            )
            await caller_with_id(daemon, "accounts", call_id, CALLER)

            def is_pop(item: dict[str, Any]) -> bool:
                return item.get("type") == "screen_pop"

            pushed = (await drain_until(sockets["1001"], is_pop))[-1]
            assert pushed["agent"] == "1001"
            pop = pushed["pop"]
            assert (pop["call_id"], pop["agent"], pop["queue"]) == (call_id, "1001", "accounts")
            assert pop["caller"]["number"] == CALLER
            assert pop["contact"]["name"] == "Ada Lovelace"
            assert pop["ivr"]["inputs"] == {"account": "123456"}
            assert pop["ivr"]["path"] == [{"node": "account", "digits": "123456"}]
            assert (await drain_until(sockets["sup"], is_pop))[-1]["pop"] == pop

            def auth(name: str) -> dict[str, str]:
                return {"Authorization": f"Bearer {tok[name]}"}

            async with http.get(f"{base}/api/agents/1001/screen-pop", headers=auth("1001")) as resp:
                assert resp.status == 200, await resp.text()
                assert await resp.json() == pop
            async with http.get(f"{base}/api/agents/1001/screen-pop", headers=auth("1002")) as resp:
                assert resp.status == 403
            # 1002 logs in: its socket sees that event after everything published before,
            # so the pop, had it been sent there, would be among what it read.
            await daemon.acd.login("1002", "1002")
            seen = await drain_until(
                sockets["1002"],
                lambda i: i.get("kind") == "agent_logged_in" and i.get("agent_id") == "1002",
            )
            assert [i for i in seen if is_pop(i)] == []
            async with http.get(f"{base}/api/agents/1002/screen-pop", headers=auth("1002")) as resp:
                assert resp.status == 404
                assert (await resp.json())["error_id"] == "no_call"
            for ws in sockets.values():
                await ws.close()


async def test_wrapup_extend_adds_time_to_a_running_wrapup_only(
    asterisk: AsteriskInstance, start_daemon: StartDaemon
) -> None:
    """After its caller hangs up, agent 1001 in wrap-up asks for 60 s more: its wrap-up
    ends 60 s later than before; 0 s is refused (400), 1002's token for 1001 too (403),
    and 1002, not in wrap-up, gets 409."""
    daemon = await start_daemon()
    await daemon.acd.wait_ready(20)
    await add_queue(daemon, "accounts", wrapup_s=30)
    for agent in ("1001", "1002"):
        await add_agent(daemon, agent, ["accounts"])
    repo = TokenRepository(daemon.database.pool)
    tok = {a: (await repo.create("agent", a, subject=a))[0] for a in ("1001", "1002")}
    base = f"http://127.0.0.1:{daemon.http_port}"
    with desk_phones(asterisk, ["1001", "1002"]):
        await daemon.acd.login("1001", "1001")
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.AVAILABLE, 20)
        await caller_with_id(daemon, "accounts", "extend-caller-1", CALLER)
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.ON_CALL, 20)
        channel = daemon.acd.legs["extend-caller-1"].channel
        await daemon.ami.action("Hangup", Channel=channel, timeout=5)
        await eventually(lambda: daemon.acd.state.agents["1001"].state is AgentState.WRAP_UP, 20)
        before = daemon.acd.state.agents["1001"].wrapup_until
        assert before is not None
        await daemon.acd.login("1002", "1002")
        async with aiohttp.ClientSession() as http:

            async def extend(agent: str, as_: str, seconds: object) -> tuple[int, Any]:
                async with http.post(
                    f"{base}/api/agents/{agent}/wrapup-extend",
                    json={"seconds": seconds},
                    headers={"Authorization": f"Bearer {tok[as_]}"},
                ) as resp:
                    return resp.status, await resp.json()

            assert (await extend("1001", "1001", 0))[0] == 400
            assert (await extend("1001", "1002", 60))[0] == 403
            status, body = await extend("1002", "1002", 60)
            assert (status, body["error_id"]) == (409, "acd_illegal_transition")
            status, body = await extend("1001", "1001", 60)
            assert status == 200, body
            assert body["state"] == "wrap_up"
            assert body["wrapup_until"] == before + 60
