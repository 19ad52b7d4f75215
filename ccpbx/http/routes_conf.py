"""Admin API for the target Asterisk's configuration: render, diff, check, apply,
history, rollback, through :mod:`ccpbx.asterisk.service` (the code ``ccpbx conf``
runs). Every route is admin-only.

Apply and rollback answer with the outcome (``result``, ``version``, ``changed``,
``reloaded``, ``at_restart``, ``problems``, ``detail``, ``check_s``, ``apply_s``):

* 200: ``applied``, or ``unchanged`` (the live Asterisk already runs these files);
* 422 ``conf_check_failed``: the throwaway Asterisk found problems, nothing was written;
* 409 ``conf_rolled_back``: the live Asterisk did not take the files (a reload or the
  verification failed) and the previous files were put back;
* 409 ``conf_not_live``: the folder already holds these files but the live Asterisk
  does not show them (reload or restart it);
* 502 ``conf_apply_failed``: putting the previous files back failed too;
* 409 ``conf_apply_running``: another apply or rollback (API or command line) runs.

A failure has the error shape (``error_id``, ``message``) with the outcome in ``details``.
``POST /api/conf/check`` answers 200 with ``ok`` true or false (the check did its job);
render, diff, check and apply each render into the staging folder first, as the
command line does.
``by`` is the token's name. Problems carry ``file`` and ``line`` where Asterisk or the
check named them. Diffs show secret values (AMI secret, phone digests, trunk
passwords) as ``<redacted>``.

Wire it with :func:`setup_conf_routes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from aiohttp import web

from ccpbx.asterisk import service, versions
from ccpbx.asterisk.apply import Outcome
from ccpbx.asterisk.verify import Problem
from ccpbx.config import Config
from ccpbx.errors import CcpbxError, InvalidInput
from ccpbx.http import admin
from ccpbx.http.admin import Body
from ccpbx.http.requests import json_body

routes = web.RouteTableDef()

MAX_HISTORY = 1000


def setup_conf_routes(
    app: web.Application,
    pool: asyncpg.Pool | Callable[[], asyncpg.Pool],
    config: Config | Callable[[], Config],
) -> None:
    """Serve ``/api/conf/...`` from ``app``."""
    admin.provide(app, pool, config)
    app.add_routes(routes)


class ConfCheckFailed(CcpbxError):
    error_id = "conf_check_failed"
    http_status = 422


class ConfRolledBack(CcpbxError):
    error_id = "conf_rolled_back"
    http_status = 409


class ConfNotLive(CcpbxError):
    error_id = "conf_not_live"
    http_status = 409


class ConfApplyFailed(CcpbxError):
    error_id = "conf_apply_failed"
    http_status = 502


def problem_dict(problem: Problem) -> dict[str, Any]:
    """``pjsip.conf:12: text`` -> file, line (None when not named), text."""
    file, _, line = problem.where.partition(":")
    number = int(line) if line.isdigit() else None
    return {"file": file or None, "line": number, "text": problem.text}


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return {
        "result": outcome.result,
        "ok": outcome.ok,
        "version": outcome.version,
        "changed": outcome.changed,
        "reloaded": outcome.reloaded,
        "at_restart": outcome.at_restart,
        "problems": [problem_dict(p) for p in outcome.problems],
        "detail": outcome.detail,
        "check_s": round(outcome.check_s, 3),
        "apply_s": round(outcome.apply_s, 3),
    }


def answer(outcome: Outcome, what: str) -> web.Response:
    """200 with the outcome when it went live (or already was), else the error that
    says how it failed, with the outcome as its details."""
    body = outcome_dict(outcome)
    if outcome.ok:
        return web.json_response(body)
    version = f"version {outcome.version}" if outcome.version else "no new version"
    if outcome.result == "check_failed":
        raise ConfCheckFailed(
            f"{what} not done ({version}): the check found {len(outcome.problems)} problem(s)",
            **body,
        )
    if outcome.result == "unchanged":
        raise ConfNotLive(
            "the folder already holds these files, but the live Asterisk does not show them"
            " (reload or restart it)",
            **body,
        )
    if outcome.result == "rolled_back":
        raise ConfRolledBack(
            f"{what} failed ({version}); the previous files were put back: {outcome.detail}",
            **body,
        )
    raise ConfApplyFailed(f"{what} failed ({version}): {outcome.detail}", **body)


async def _message(request: web.Request) -> str:
    body = Body(await json_body(request), ("message",))
    message: str = body.text("message", "")
    if len(message) > 2000:
        raise InvalidInput("message: at most 2000 characters", field="message")
    return message


@routes.post("/api/conf/render")
async def render(request: web.Request) -> web.Response:
    """Render every template into the staging folder: the files and what they hold."""
    rendered = await service.render(admin.db(request), admin.config(request))
    return web.json_response(
        {
            "staging": str(rendered.staging),
            "files": sorted(rendered.files),
            "counts": rendered.counts(),
            "warnings": rendered.warnings,
        }
    )


@routes.get("/api/conf/diff")
async def diff(request: web.Request) -> web.Response:
    """Render (into the staging folder), then each managed file's state against the live
    folder (``same``, ``changed``, ``new``) and its unified diff, secrets redacted."""
    config = admin.config(request)
    rendered = await service.render(admin.db(request), config)
    folder = service.target(config).conf_dir
    diffs = await service.diff(rendered, folder)
    return web.json_response(
        {
            "target": str(folder),
            "files": [
                {"name": d.name, "state": d.state, "diff": service.redact(d.diff)} for d in diffs
            ],
            "changed": [d.name for d in diffs if d.state != "same"],
        }
    )


@routes.post("/api/conf/check")
async def check(request: web.Request) -> web.Response:
    """Render, then prove the files in a throwaway Asterisk; 200 with the report
    (``ok`` false and the problems when it failed: the check itself did its job)."""
    config = admin.config(request)
    rendered = await service.render(admin.db(request), config)
    report = await service.check(rendered, config)
    expect = rendered.expect
    return web.json_response(
        {
            "ok": report.ok,
            "seconds": round(report.seconds, 3),
            "problems": [problem_dict(p) for p in report.problems],
            "expected": {
                "modules": len(expect.modules),
                "contexts": len(expect.contexts),
                "endpoints": sorted(expect.endpoints),
                "registrations": len(expect.registrations),
            },
        }
    )


@routes.post("/api/conf/apply")
async def apply(request: web.Request) -> web.Response:
    """Render, check, write, reload, verify (or put back); stored as a version by the
    token's name. Body: ``{"message": "why"}`` (optional)."""
    message = await _message(request)
    config = admin.config(request)
    db = admin.db(request)
    rendered = await service.render(db, config)
    outcome = await service.deploy(db, rendered, config, by=admin.actor(request), message=message)
    return answer(outcome, "apply")


@routes.post("/api/conf/rollback/{version}")
async def rollback(request: web.Request) -> web.Response:
    """Re-apply the files of an earlier applied version (a new version records it)."""
    raw = request.match_info["version"]
    if not raw.isdigit():
        raise InvalidInput(f"version {raw!r} is not a version number", field="version")
    message = await _message(request)
    outcome = await service.rollback(
        admin.db(request),
        admin.config(request),
        int(raw),
        by=admin.actor(request),
        message=message,
    )
    return answer(outcome, f"rollback to version {raw}")


@routes.get("/api/conf/history")
async def history(request: web.Request) -> web.Response:
    """The latest versions, newest first (``?limit=N``, default 50); ``current`` is the
    last applied one."""
    raw = request.query.get("limit", "50")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HISTORY:
        raise InvalidInput(f"limit must be a number from 1 to {MAX_HISTORY}", field="limit")
    rows = await versions.history(admin.db(request), int(raw))
    return web.json_response(
        {
            "current": next((r.version for r in rows if r.result == "applied"), None),
            "versions": [
                {
                    "version": r.version,
                    "created_at": r.created_at.isoformat(),
                    "by": r.created_by,
                    "message": r.message,
                    "result": r.result,
                    "changed": list(r.changed),
                    "detail": r.detail,
                    "rollback_of": r.rollback_of,
                    "check_s": r.check_s,
                    "apply_s": r.apply_s,
                }
                for r in rows
            ],
        }
    )
