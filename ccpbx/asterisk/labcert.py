"""``ccpbx conf lab-cert``: a self-signed certificate and key for a lab's TLS and WSS.

Made by the ``openssl`` command (present wherever Asterisk's TLS is, since Asterisk and
pjproject link OpenSSL), so ccpbx needs no crypto library of its own. RSA 2048 (what
old desk phones still accept), SHA-256, the host in the subject and as a
subjectAltName (an IP address or DNS name: browsers check the latter only). A lab
certificate: phones and browsers must be told to trust it (or to not verify); a
production PBX takes a certificate from a real CA through the same ``[sip] tls_cert``
and ``tls_key`` keys.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ccpbx import console
from ccpbx.config import load
from ccpbx.errors import CcpbxError, InvalidInput

DEFAULT_DAYS = 825
"""The longest validity Apple's TLS rules accept for a certificate (about 27 months)."""


class LabCertError(CcpbxError):
    error_id = "lab_cert_failed"


@dataclass(frozen=True, slots=True)
class LabCert:
    cert: Path
    key: Path


def _subject_alt_name(host: str) -> str:
    try:
        return f"IP:{ipaddress.ip_address(host)}"
    except ValueError:
        return f"DNS:{host}"


def _check_host(host: str) -> str:
    labels = host.split(".")
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if (
        not host
        or len(host) > 253
        or not all(
            label and len(label) <= 63 and label.replace("-", "").isalnum() for label in labels
        )
    ):
        raise InvalidInput(f"--name {host!r}: not a host name or IP address", field="name")
    return host.lower()


def make_lab_cert(
    out: Path, host: str, *, days: int = DEFAULT_DAYS, force: bool = False, openssl: str = ""
) -> LabCert:
    """Write ``HOST.crt`` and ``HOST.key`` (mode 600) into ``out``; refuse to replace
    existing files unless ``force``."""
    host = _check_host(host)
    if not 1 <= days <= 3650:
        raise InvalidInput(f"--days must be between 1 and 3650, got {days}", field="days")
    binary = openssl or shutil.which("openssl")
    if not binary:
        raise LabCertError("the openssl command is not installed (Debian: apt-get install openssl)")
    out.mkdir(parents=True, exist_ok=True)
    cert, key = out / f"{host}.crt", out / f"{host}.key"
    existing = [str(p) for p in (cert, key) if p.exists()]
    if existing and not force:
        raise InvalidInput(
            f"{', '.join(existing)} already exist: pass --force to replace them", field="out"
        )
    tmp_key = out / f".{host}.key.tmp"
    tmp_cert = out / f".{host}.crt.tmp"
    # The key is private from its first byte: created 600, then filled by openssl.
    tmp_key.unlink(missing_ok=True)
    os.close(os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    argv = [
        binary,
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-sha256",
        "-nodes",
        "-days",
        str(days),
        "-subj",
        f"/O=ccpbx lab/CN={host}",
        "-addext",
        f"subjectAltName={_subject_alt_name(host)}",
        "-addext",
        "extendedKeyUsage=serverAuth,clientAuth",
        "-keyout",
        str(tmp_key),
        "-out",
        str(tmp_cert),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        tmp_key.unlink(missing_ok=True)
        tmp_cert.unlink(missing_ok=True)
        raise LabCertError(f"openssl failed ({result.returncode}): {result.stderr.strip()}")
    os.chmod(tmp_key, 0o600)
    os.chmod(tmp_cert, 0o644)
    os.replace(tmp_key, key)
    os.replace(tmp_cert, cert)
    return LabCert(cert=cert, key=key)


async def cmd_lab_cert(args: argparse.Namespace) -> int:
    config = load(args.config)
    host = args.name or config.sip.domain or socket.gethostname()
    made = make_lab_cert(Path(args.out), host, days=args.days, force=args.force)
    print(made.cert)
    print(made.key)
    console.say(
        f"self-signed certificate for {host}, valid {args.days} days; for TLS and WSS set in"
        f' [sip]: tls_cert = "{made.cert.resolve()}", tls_key = "{made.key.resolve()}",'
        " tls_port (e.g. 5061) and/or wss_port (e.g. 8089); phones and browsers must be"
        " told to trust it"
    )
    return console.EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``lab-cert`` to the ``conf`` command (registered by :mod:`ccpbx.asterisk.cli`)."""
    conf = sub.choices["conf"]
    actions = [a for a in conf._actions if isinstance(a, argparse._SubParsersAction)]
    lab = actions[0].add_parser(
        "lab-cert",
        help="make a self-signed TLS certificate and key for a lab",
        description="Write HOST.crt and HOST.key (self-signed, RSA 2048, SHA-256, the host"
        " as subjectAltName; the key mode 600) for [sip] tls_cert and tls_key. For a lab:"
        " phones and browsers must be told to trust it. Needs the openssl command.",
    )
    lab.add_argument("--out", metavar="DIR", default=".", help="folder to write into (default .)")
    lab.add_argument(
        "--name",
        metavar="HOST",
        help="the host name or address phones reach Asterisk by (default: [sip] domain,"
        " else this machine's name)",
    )
    lab.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"validity (default {DEFAULT_DAYS})"
    )
    lab.add_argument("--force", action="store_true", help="replace existing files")
    lab.set_defaults(func=cmd_lab_cert)
