"""`ccpbx conf render|diff`: the target's configuration from TOML and the database."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg

from ccpbx.pbx import model, numbers, phones, trunks

from .test_cli import ccpbx

REALM = "pbx.example"


def _config(tmp_path: Path, **sections: str) -> Path:
    path = tmp_path / "ccpbx.toml"
    text = {
        "ami": 'secret = "ami-secret-1"',
        "agi": 'host = "127.0.0.1"\nport = 4573',
        "sip": f'realm = "{REALM}"\ndomain = "pbx.example.com"\nbind = "192.0.2.10"',
        "asterisk": f'conf_dir = "{tmp_path}/etc-asterisk"\nstaging_dir = "{tmp_path}/staged"',
    }
    text.update(sections)
    path.write_text("".join(f"[{k}]\n{v}\n" for k, v in text.items()))
    return path


async def _data(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO acd_queues (name) VALUES ('sales')")
        phone, secret = await phones.add(conn, "1001", realm=REALM, label="Anna")
        await trunks.add(
            conn, trunks.check("acme", host="203.0.113.5", identify=["203.0.113.0/24"])
        )
        await trunks.add(
            conn,
            trunks.check(
                "voip", host="sip.voip.example", register=True, username="4420", secret="tr-pw"
            ),
        )
        await numbers.add(conn, "+12125550100", "queue:sales")
        await conn.execute("INSERT INTO acd_agents (agent) VALUES ('1002')")
        await numbers.add(conn, "+12125550109", "agent:1002")
        assert phone.md5_cred == model.md5_cred("1001", REALM, secret)
        return phone.md5_cred
    finally:
        await conn.close()


def _section(text: str, name: str, kind: str) -> str:
    """The body of the pjsip section ``[name]`` whose type is ``kind``."""
    for match in re.finditer(
        rf"^\[{re.escape(name)}\](\([^)]*\))?\n(.*?)(?=^\[|\Z)", text, re.M | re.S
    ):
        body = match.group(2)
        template = match.group(1) or ""
        if f"type = {kind}" in body or (kind in template):
            return body
    raise AssertionError(f"no [{name}] of type {kind}")


async def test_render_writes_every_managed_file_from_toml_and_database(
    database_url: str, tmp_path: Path
) -> None:
    """Phones (MD5 credential, realm), trunks (address-identified: identify + trusted caller
    ID; registered: registration with line, untrusted), numbers (queue and agent routes,
    the agent's mailbox) and the TOML values reach the files; each file says ccpbx
    manages it; secrets are mode 640."""
    md5 = await _data(database_url)
    cfg = _config(tmp_path)
    out = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert out.returncode == 0, out.stderr
    staged = tmp_path / "staged"
    written = {Path(line).name for line in out.stdout.split()}
    assert {"pjsip.conf", "extensions.conf", "manager.conf", "asterisk.conf"} <= written
    for name in written:
        text = (staged / name).read_text()
        assert text.startswith("; Managed by ccpbx: rendered from asterisk-conf/"), name
        assert oct((staged / name).stat().st_mode & 0o777) == "0o640"
    pjsip = (staged / "pjsip.conf").read_text()
    assert "endpoint_identifier_order = ip,username" in pjsip
    assert "bind = 192.0.2.10:5060" in pjsip
    auth = _section(pjsip, "1001", "phone-auth")
    assert f"password_digest = md5:{md5}" in auth
    assert f"realm = {REALM}" in auth
    assert "password =" not in auth
    acme = _section(pjsip, "acme", "trunk-endpoint")
    assert "trust_id_inbound = yes" in acme
    assert "match = 203.0.113.0/24" in _section(pjsip, "acme", "identify")
    voip = _section(pjsip, "voip", "trunk-endpoint")
    assert "trust_id_inbound = no" in voip
    assert "outbound_auth = voip-auth" in voip
    registration = _section(pjsip, "voip", "registration")
    assert "line = yes" in registration
    assert "endpoint = voip" in registration
    assert "server_uri = sip:sip.voip.example:5060" in registration
    assert "[voip]\ntype = identify" not in pjsip  # recognised by its registration only
    assert "identify_by = ip" in _section(pjsip, "trunk-endpoint", "endpoint")
    ext = (staged / "extensions.conf").read_text()
    assert "exten => +12125550100,1,NoOp(ccpbx number +12125550100 routes to queue:sales)" in ext
    assert "exten => 12125550100,1," in ext
    assert "Goto(ccpbx-queue-enter,sales,1)" in ext
    assert "CCPBX_AGI = agi://127.0.0.1:4573" in ext
    assert "secret = ami-secret-1" in (staged / "manager.conf").read_text()
    assert f"astetcdir => {tmp_path}/etc-asterisk" in (staged / "asterisk.conf").read_text()
    assert "exten => +12125550109,1,NoOp(ccpbx number +12125550109 routes to agent:1002)" in ext
    assert "Set(CCPBX_AGENT_TARGET=1002)" in ext
    assert "sales => " in (staged / "voicemail.conf").read_text()
    assert "\n1002 => " in (staged / "voicemail.conf").read_text()  # the agent's mailbox


async def test_render_refuses_what_it_cannot_render_naming_the_fix(
    database_url: str, tmp_path: Path
) -> None:
    """A TLS phone with no TLS transport configured, an empty AMI secret and a phone whose
    credential was made for another realm are refused (exit 1) with what to do; nothing is
    staged."""
    conn = await asyncpg.connect(database_url)
    try:
        await phones.add(conn, "tls1", realm=REALM, transport="tls")
    finally:
        await conn.close()
    cfg = _config(tmp_path)
    tls = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert tls.returncode == 1
    assert "no TLS transport is configured: set [sip] tls_port, tls_cert and tls_key" in (
        tls.stderr
    )
    assert not (tmp_path / "staged").exists()
    conn = await asyncpg.connect(database_url)
    try:
        await phones.remove(conn, "tls1")
        await phones.add(conn, "1001", realm="old-realm")
    finally:
        await conn.close()
    realm = ccpbx("conf", "render", database_url=database_url, config=cfg)
    assert realm.returncode == 1
    assert "reset-secret 1001" in realm.stderr
    no_secret = ccpbx("conf", "render", database_url=database_url, config=_config(tmp_path, ami=""))
    assert no_secret.returncode == 1
    assert "ami.secret" in no_secret.stderr


async def test_diff_compares_managed_files_only(database_url: str, tmp_path: Path) -> None:
    """conf diff shows a unified diff per managed file that differs from the target folder,
    counts them, and neither reads nor touches files ccpbx does not render."""
    await _data(database_url)
    cfg = _config(tmp_path)
    target = tmp_path / "etc-asterisk"
    target.mkdir()
    (target / "pjsip.conf").write_text("[global]\ntype = global\n")
    (target / "sip_notify.conf").write_text("[mine]\nuntouched\n")
    first = ccpbx("conf", "diff", database_url=database_url, config=cfg)
    assert first.returncode == 0, first.stderr
    assert f"--- {target}/pjsip.conf" in first.stdout
    assert "+[voip]" in first.stdout
    assert "sip_notify" not in first.stdout
    staged = sorted(p.name for p in (tmp_path / "staged").iterdir())
    assert re.search(rf"{len(staged)} of {len(staged)} managed files differ", first.stderr)
    # Copy the staged files in: nothing differs any more.
    for name in staged:
        (target / name).write_text((tmp_path / "staged" / name).read_text())
    second = ccpbx("conf", "diff", database_url=database_url, config=cfg)
    assert second.stdout == ""
    assert f"0 of {len(staged)} managed files differ" in second.stderr
    assert (target / "sip_notify.conf").read_text() == "[mine]\nuntouched\n"
