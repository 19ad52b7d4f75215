"""Admin API for phones, carrier trunks and inbound numbers: the same store functions
``ccpbx phone|trunk|number`` call, with the token's name as the audit log's actor.

Every route is admin-only (none carries a role mark). A phone's password is made
when the phone is added or its secret reset, returned in that one response (marked
``Cache-Control: no-store``) and never again: lists and reads show the phone without
its digest, trunks without their secret. A change reaches Asterisk with the next
``POST /api/conf/apply`` (or ``ccpbx conf apply``).

Wire it with :func:`setup_pbx_routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web

from ccpbx.config import Config
from ccpbx.errors import InvalidInput
from ccpbx.http import admin
from ccpbx.http.admin import NO_STORE, Body
from ccpbx.http.requests import json_body
from ccpbx.pbx import model, numbers, phones, provision, trunks
from ccpbx.pbx.model import PhoneRecord
from ccpbx.store.phones import check_e164

routes = web.RouteTableDef()


def setup_pbx_routes(
    app: web.Application,
    pool: asyncpg.Pool | Callable[[], asyncpg.Pool],
    config: Config | Callable[[], Config],
) -> None:
    """Serve ``/api/phones``, ``/api/trunks`` and ``/api/numbers`` from ``app``."""
    admin.provide(app, pool, config)
    app.add_routes(routes)


def _account(
    config: Config, phone: PhoneRecord, password: str | None
) -> tuple[dict[str, Any] | None, str | None]:
    """The softphone account, or None and why (no [sip] domain, or no port configured
    for the phone's transport): a fresh secret is returned either way."""
    try:
        port = config.sip.port_for(phone.transport)
        account = provision.account(phone, domain=config.sip.domain, port=port, password=password)
    except InvalidInput as exc:
        return None, exc.message
    return account.as_dict(), None


def _with_secret(config: Config, phone: PhoneRecord, secret: str, status: int) -> web.Response:
    account, problem = _account(config, phone, secret)
    body: dict[str, Any] = {"phone": phones.public(phone), "secret": secret, "account": account}
    if problem:
        body["account_problem"] = problem
    return web.json_response(body, status=status, headers=NO_STORE)


# -- phones ---------------------------------------------------------------------------
@routes.get("/api/phones")
async def list_phones(request: web.Request) -> web.Response:
    """Every phone, without its digest."""
    found = await phones.list_all(admin.db(request))
    return web.json_response({"phones": [phones.public(p) for p in found]})


_PHONE_FIELDS = ("name", "label", "transport", "webrtc", "class_of_service", "max_calls")


@routes.post("/api/phones")
async def add_phone(request: web.Request) -> web.Response:
    """Add a phone: 201 with the phone, its generated password (this once) and the
    softphone account."""
    body = Body(await json_body(request), _PHONE_FIELDS)
    name = model.check_phone_name(body.required_text("name"))
    label, transport = body.text("label", ""), body.text("transport", "udp")
    webrtc = body.flag("webrtc")
    class_of_service = model.check_choice(
        body.text("class_of_service", "national"), model.CLASSES_OF_SERVICE, "class_of_service"
    )
    max_calls = body.number("max_calls", 2)
    config = admin.config(request)
    phone, secret = await phones.add(
        admin.db(request),
        name,
        realm=config.sip.realm,
        label=label,
        transport=transport,
        webrtc=webrtc,
        class_of_service=class_of_service,
        max_calls=max_calls,
        actor=admin.actor(request),
    )
    return _with_secret(config, phone, secret, 201)


@routes.get("/api/phones/{name}")
async def get_phone(request: web.Request) -> web.Response:
    phone = await phones.get(admin.db(request), request.match_info["name"])
    return web.json_response({"phone": phones.public(phone)})


@routes.delete("/api/phones/{name}")
async def remove_phone(request: web.Request) -> web.Response:
    phone = await phones.remove(
        admin.db(request), request.match_info["name"], actor=admin.actor(request)
    )
    return web.json_response({"phone": phones.public(phone)})


@routes.post("/api/phones/{name}/reset-secret")
async def reset_phone_secret(request: web.Request) -> web.Response:
    """A new password for the phone (this once) and its account; the old one stops
    working at the next apply."""
    config = admin.config(request)
    phone, secret = await phones.reset_secret(
        admin.db(request),
        request.match_info["name"],
        realm=config.sip.realm,
        actor=admin.actor(request),
    )
    return _with_secret(config, phone, secret, 200)


@routes.get("/api/phones/{name}/provision")
async def provision_phone(request: web.Request) -> web.Response:
    """The phone's account without its password (which is stored nowhere); with
    ``?format=png`` the account's URI as a QR code image."""
    form = request.query.get("format", "json")
    if form not in ("json", "png"):
        raise InvalidInput('format must be "json" or "png"', field="format")
    config = admin.config(request)
    phone = await phones.get(admin.db(request), request.match_info["name"])
    account, problem = _account(config, phone, None)
    if account is None:
        raise InvalidInput(f"phone {phone.name}: {problem}", field="sip")
    if form == "png":
        return web.Response(body=provision.qr_png(account["uri"]), content_type="image/png")
    return web.json_response({"phone": phones.public(phone), "account": account})


# -- trunks ---------------------------------------------------------------------------
_TRUNK_FIELDS = (
    "name",
    "host",
    "port",
    "transport",
    "identify",
    "register",
    "username",
    "secret",
    "codecs",
    "max_channels",
    "dial_template",
)


@routes.get("/api/trunks")
async def list_trunks(request: web.Request) -> web.Response:
    """Every trunk, without its secret."""
    found = await trunks.list_all(admin.db(request))
    return web.json_response({"trunks": [trunks.public(t) for t in found]})


@routes.post("/api/trunks")
async def add_trunk(request: web.Request) -> web.Response:
    """Add a trunk, checked as ``ccpbx trunk add`` checks it (by address or by
    registration, never by a header's user name): 201 with the trunk."""
    body = Body(await json_body(request), _TRUNK_FIELDS)
    trunk = trunks.check(
        body.required_text("name"),
        host=body.required_text("host"),
        port=body.number("port", 5060),
        transport=body.text("transport", "udp"),
        identify=body.texts("identify"),
        register=body.flag("register"),
        username=body.text("username"),
        secret=body.text("secret"),
        codecs=body.texts("codecs", ("ulaw", "alaw")),
        max_channels=body.number("max_channels"),
        dial_template=body.text("dial_template", model.DEFAULT_DIAL_TEMPLATE),
    )
    stored = await trunks.add(admin.db(request), trunk, actor=admin.actor(request))
    return web.json_response({"trunk": trunks.public(stored)}, status=201)


@routes.get("/api/trunks/{name}")
async def get_trunk(request: web.Request) -> web.Response:
    trunk = await trunks.get(admin.db(request), request.match_info["name"])
    return web.json_response({"trunk": trunks.public(trunk)})


@routes.delete("/api/trunks/{name}")
async def remove_trunk(request: web.Request) -> web.Response:
    trunk = await trunks.remove(
        admin.db(request), request.match_info["name"], actor=admin.actor(request)
    )
    return web.json_response({"trunk": trunks.public(trunk)})


# -- numbers --------------------------------------------------------------------------
def _number(number: model.NumberRecord) -> dict[str, str]:
    return {"number": number.number, "route": number.route}


@routes.get("/api/numbers")
async def list_numbers(request: web.Request) -> web.Response:
    found = await numbers.list_all(admin.db(request))
    return web.json_response({"numbers": [_number(n) for n in found]})


@routes.post("/api/numbers")
async def add_number(request: web.Request) -> web.Response:
    """Route an inbound number (E.164) ``to`` ``queue:NAME`` or ``ivr:FLOW``: 201."""
    body = Body(await json_body(request), ("number", "to"))
    number = body.required_text("number")
    try:
        check_e164(number, "number")
    except InvalidInput as exc:
        raise InvalidInput(exc.message, field="number", **exc.details) from exc
    route = body.required_text("to")
    stored = await numbers.add(admin.db(request), number, route, actor=admin.actor(request))
    return web.json_response({"number": _number(stored)}, status=201)


@routes.delete("/api/numbers/{number}")
async def remove_number(request: web.Request) -> web.Response:
    """Stop routing a number (``+`` may be written ``%2B``)."""
    stored = await numbers.remove(
        admin.db(request), request.match_info["number"], actor=admin.actor(request)
    )
    return web.json_response({"number": _number(stored)})
