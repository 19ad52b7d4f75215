"""What routes read from a request: the JSON body, the agent in the path."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ccpbx.errors import Forbidden, InvalidInput
from ccpbx.http.keys import REQUEST_TOKEN
from ccpbx.queues.model import check_agent_id


async def json_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object ({} when there is none); InvalidInput otherwise."""
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as exc:
        raise InvalidInput("the body is not JSON") from exc
    except RecursionError as exc:  # e.g. [[[[...]]]] 100,000 deep
        raise InvalidInput("the body is nested too deeply") from exc
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object")
    return body


def agent_in_path(request: web.Request) -> str:
    """The agent in the path, after checking an agent token is acting for itself."""
    agent = check_agent_id(request.match_info["agent"])
    token = request[REQUEST_TOKEN]
    if token.role == "agent" and token.subject != agent:
        raise Forbidden(
            "an agent token acts only for its own agent", agent=agent, subject=token.subject
        )
    return agent
