"""What a person needs to set up a phone: account details as text and as a QR code, and
a desk-phone provisioning file rendered from a template admins edit
(``asterisk-conf/provisioning/*.j2``).

The password is stored nowhere (only its digest is), so it can be shown only when it
has just been made: by ``phone add`` or ``phone reset-secret`` with ``--provision``.
Without it, the account is shown without a password and the QR code holds none.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import segno
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from ccpbx.errors import InvalidInput
from ccpbx.pbx.model import PhoneRecord

_FORBIDDEN = ("\r", "\n", "\0")


def default_templates_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "asterisk-conf" / "provisioning"


@dataclass(frozen=True, slots=True)
class Account:
    """One SIP account as a softphone asks for it."""

    user: str
    label: str
    domain: str
    port: int
    transport: str
    realm: str
    password: str | None = None

    def text(self) -> str:
        lines = [
            f"user:      {self.user}",
            f"auth user: {self.user}",
            f"domain:    {self.domain}",
            f"port:      {self.port}",
            f"transport: {self.transport}",
            f"realm:     {self.realm}",
        ]
        if self.password is None:
            lines.append(
                "password:  not stored by ccpbx; make a new one with"
                f" `ccpbx phone reset-secret {self.user} --provision`"
            )
        else:
            lines.append(f"password:  {self.password}   (shown once)")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """The account for an API client (``password`` None unless it was just made)."""
        return {
            "user": self.user,
            "auth_user": self.user,
            "label": self.label,
            "domain": self.domain,
            "port": self.port,
            "transport": self.transport,
            "realm": self.realm,
            "password": self.password,
            "uri": self.uri(),
        }

    def uri(self) -> str:
        """``sip:user[:password]@domain:port;transport=t``, what the QR code holds."""
        userinfo = quote(self.user, safe="")
        if self.password is not None:
            userinfo += ":" + quote(self.password, safe="")
        return f"sip:{userinfo}@{self.domain}:{self.port};transport={self.transport}"


def account(phone: PhoneRecord, *, domain: str, port: int, password: str | None) -> Account:
    if not domain:
        raise InvalidInput(
            "the phones' SIP domain is not configured: set [sip] domain in the config file"
            " (the host name or address phones register to)",
            field="sip.domain",
        )
    return Account(
        user=phone.name,
        label=phone.label or phone.name,
        domain=domain,
        port=port,
        transport=phone.transport,
        realm=phone.realm,
        password=password,
    )


def qr_terminal(data: str) -> str:
    """``data`` as a QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(data, error="m").terminal(out=out, compact=True)
    return out.getvalue()


def qr_png(data: str, scale: int = 6) -> bytes:
    """``data`` as a QR code in a PNG image (``scale`` pixels a module)."""
    out = io.BytesIO()
    segno.make(data, error="m").save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def desk_file(account: Account, template: Path) -> str:
    """A desk phone's provisioning file from ``template``; needs the fresh password.
    Values may not hold CR, LF or NUL (a label could otherwise add a line, a key)."""
    if account.password is None:
        raise InvalidInput(
            "a desk-phone file needs the password, which only exists when it is made:"
            f" `ccpbx phone reset-secret {account.user} --provision --desk-file FILE`"
        )
    for name in ("user", "label", "domain", "transport", "password"):
        if any(c in str(getattr(account, name)) for c in _FORBIDDEN):
            raise InvalidInput(f"{name} may not hold CR, LF or NUL", field=name)
    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    try:
        return env.from_string(template.read_text(encoding="utf-8")).render(account=account)
    except (OSError, TemplateError) as exc:
        raise InvalidInput(f"{template}: {exc}") from exc
