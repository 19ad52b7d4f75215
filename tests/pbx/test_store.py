"""Phones, trunks and numbers in a real PostgreSQL: what is stored, refused and audited."""

from __future__ import annotations

import asyncpg
import pytest

from ccpbx.errors import Conflict, InvalidInput, NotFound
from ccpbx.pbx import model, numbers, phones, trunks
from ccpbx.store import audit

REALM = "pbx.example"


async def test_a_phone_keeps_only_the_digest_of_its_generated_secret(pool: asyncpg.Pool) -> None:
    """phone add makes a strong password, returns it once and stores md5(name:realm:pw)."""
    phone, secret = await phones.add(pool, "1001", realm=REALM, label="Anna")
    assert len(secret) >= 24
    assert phone.md5_cred == model.md5_cred("1001", REALM, secret)
    row = await pool.fetchrow("SELECT * FROM pbx_phones WHERE name = '1001'")
    assert secret not in " ".join(str(v) for v in row.values())
    _, other = await phones.add(pool, "1002", realm=REALM)
    assert other != secret
    entries = await audit.entries(pool, "phone", "1001")
    assert [e.action for e in entries] == ["phone.add"]
    assert "md5_cred" not in entries[0].details
    assert secret not in str(entries[0].details)


async def test_reset_secret_replaces_the_digest(pool: asyncpg.Pool) -> None:
    """reset-secret gives a new password; the old digest is gone; it is audited."""
    first, old = await phones.add(pool, "1001", realm=REALM)
    second, new = await phones.reset_secret(pool, "1001", realm=REALM)
    assert new != old
    assert second.md5_cred == model.md5_cred("1001", REALM, new) != first.md5_cred
    assert (
        next(e.action for e in await audit.entries(pool, "phone", "1001")) == "phone.reset_secret"
    )
    with pytest.raises(NotFound):
        await phones.reset_secret(pool, "9999", realm=REALM)


async def test_phone_values_are_checked(pool: asyncpg.Pool) -> None:
    """Names, labels, transports and classes of service that would break pjsip.conf are refused."""
    for bad in ("A1", "x y", "-1", "a" * 41, "carrier;x"):
        with pytest.raises(InvalidInput):
            await phones.add(pool, bad, realm=REALM)
    with pytest.raises(InvalidInput):
        await phones.add(pool, "1001", realm=REALM, label='Anna" <evil>')
    with pytest.raises(InvalidInput):
        await phones.add(pool, "1001", realm=REALM, transport="sctp")
    with pytest.raises(InvalidInput):
        await phones.add(pool, "1001", realm=REALM, class_of_service="premium")
    with pytest.raises(InvalidInput):
        await phones.add(pool, "1001", realm=REALM, max_calls=0)
    web, _ = await phones.add(pool, "web1", realm=REALM, webrtc=True)
    assert web.transport == "wss"
    await phones.add(pool, "1001", realm=REALM)
    with pytest.raises(Conflict):
        await phones.add(pool, "1001", realm=REALM)
    assert [p.name for p in await phones.list_all(pool)] == ["1001", "web1"]
    await phones.remove(pool, "1001")
    assert [p.name for p in await phones.list_all(pool)] == ["web1"]
    with pytest.raises(NotFound):
        await phones.remove(pool, "1001")


async def test_a_trunk_needs_address_or_registration(pool: asyncpg.Pool) -> None:
    """A trunk with neither identify CIDRs nor registration is refused (in Python and SQL)."""
    with pytest.raises(InvalidInput, match="--identify"):
        trunks.check("acme", host="sip.acme.example")
    with pytest.raises(InvalidInput, match="--username"):
        trunks.check("acme", host="sip.acme.example", register=True)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO pbx_trunks (name, host) VALUES ('acme', 'sip.acme.example')"
        )
    by_ip = await trunks.add(
        pool, trunks.check("acme", host="203.0.113.5", identify=["203.0.113.0/24", "198.51.100.7"])
    )
    assert by_ip.identify == ("203.0.113.0/24", "198.51.100.7/32")
    by_reg = await trunks.add(
        pool,
        trunks.check(
            "voip", host="sip.voip.example", register=True, username="4420", secret="s3cret"
        ),
    )
    assert by_reg.register
    assert by_reg.secret == "s3cret"
    assert [t.name for t in await trunks.list_all(pool)] == ["acme", "voip"]
    details = (await audit.entries(pool, "trunk", "voip"))[0].details
    assert "s3cret" not in str(details)


async def test_trunk_values_are_checked() -> None:
    """Bad hosts, networks, codecs and dial templates are refused, naming the problem."""
    good = {"host": "203.0.113.5", "identify": ["203.0.113.5"]}
    with pytest.raises(InvalidInput, match="host"):
        trunks.check("acme", **{**good, "host": "sip acme"})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="identify"):
        trunks.check("acme", **{**good, "identify": ["300.1.1.1"]})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="codecs"):
        trunks.check("acme", codecs=["ulaw", "mp3"], **good)  # type: ignore[arg-type]
    for template in ("PJSIP/{trunk}", "PJSIP/{number}@{trunk},30", "PJSIP/{number}&Local/x"):
        with pytest.raises(InvalidInput, match="dial template"):
            trunks.check("acme", dial_template=template, **good)  # type: ignore[arg-type]
    trunk = trunks.check("acme", dial_template="PJSIP/+1{number}@{trunk}", **good)  # type: ignore[arg-type]
    assert model.dial_string(trunk, "2125550100") == "PJSIP/+12125550100@acme"


async def test_phones_and_trunks_share_one_name_space(pool: asyncpg.Pool) -> None:
    """A phone cannot take a trunk's name (both are PJSIP endpoints), nor the other way."""
    await trunks.add(pool, trunks.check("carrier", host="127.0.0.1", identify=["127.0.0.1"]))
    with pytest.raises(Conflict, match="already a trunk"):
        await phones.add(pool, "carrier", realm=REALM)
    await phones.add(pool, "desk", realm=REALM)
    with pytest.raises(Conflict, match="already a phone"):
        await trunks.add(pool, trunks.check("desk", host="127.0.0.1", identify=["127.0.0.1"]))


async def test_numbers_route_to_existing_targets(pool: asyncpg.Pool) -> None:
    """A number is E.164 and routes to exactly one existing queue, IVR flow or agent."""
    await pool.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
    await pool.execute("INSERT INTO acd_agents (agent) VALUES ('1001')")
    n = await numbers.add(pool, "+1 212 555 0100", "queue:sales")
    assert (n.number, n.route) == ("+12125550100", "queue:sales")
    await numbers.add(pool, "+12125550101", "queue:sales")
    direct = await numbers.add(pool, "+12125550106", "agent:1001")
    assert (direct.kind, direct.target, direct.route) == ("agent", "1001", "agent:1001")
    with pytest.raises(NotFound):
        await numbers.add(pool, "+12125550107", "agent:1999")
    with pytest.raises(NotFound):
        await numbers.add(pool, "+12125550102", "queue:nosuch")
    with pytest.raises(NotFound, match="activate it first"):
        await numbers.add(pool, "+12125550103", "ivr:support")
    with pytest.raises(InvalidInput, match=r"E\.164"):
        await numbers.add(pool, "2125550104", "queue:sales")
    with pytest.raises(InvalidInput, match="route"):
        await numbers.add(pool, "+12125550105", "voicemail:x")
    with pytest.raises(Conflict):
        await numbers.add(pool, "+12125550100", "queue:sales")
    assert [x.route for x in await numbers.list_all(pool)] == [
        "queue:sales",
        "queue:sales",
        "agent:1001",
    ]
    await numbers.remove(pool, "+12125550100")
    assert [a.action for a in await audit.entries(pool, "number", "+12125550100")] == [
        "number.remove",
        "number.add",
    ]
