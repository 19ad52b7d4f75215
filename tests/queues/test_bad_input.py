"""What the queue and agent definitions refuse (issue 14's findings): numbers that are
not finite, names the dialplan reserves, names of any length, JSON nested without end."""

from __future__ import annotations

import math

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from ccpbx.acd import QueueConfig, RelaxationStep
from ccpbx.errors import InvalidInput
from ccpbx.http.middleware import error_middleware
from ccpbx.http.requests import json_body
from ccpbx.queues.model import check_agent_name, check_queue_name


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, float("1e999"), -1, 86_401])
@pytest.mark.parametrize("key", ["wrapup_s", "ring_timeout_s", "service_level_s", "max_wait_s"])
def test_queue_times_must_be_finite_and_bounded(key: str, value: float) -> None:
    """NaN, infinity, negative and over-a-day times are refused, naming the setting."""
    with pytest.raises(ValueError, match=key):
        QueueConfig("sales", **{key: value})  # type: ignore[arg-type]


def test_relaxation_steps_must_be_finite() -> None:
    """A relaxation step after NaN seconds is refused."""
    with pytest.raises(ValueError, match="after_s"):
        QueueConfig("sales", relaxation=(RelaxationStep(math.nan, "billing", 1),))


@pytest.mark.parametrize("name", ["failed", "fax", "talk", "agent-1001"])
def test_dialplan_names_are_not_queues(name: str) -> None:
    """Asterisk's special extensions and direct-line names cannot be queue names."""
    with pytest.raises(InvalidInput):
        check_queue_name(name)


def test_agent_names_are_bounded() -> None:
    """An agent name of 900 KB, or with a control character, is refused; 100 is fine."""
    assert check_agent_name("A" * 100) == "A" * 100
    for bad in ("A" * 900_000, "Anna\nBerg", "Anna\x00"):
        with pytest.raises(InvalidInput, match="agent name"):
            check_agent_name(bad)


async def test_json_nested_100000_deep_is_a_400_not_a_500() -> None:
    """A body of 100,000 nested lists is refused as bad input, not answered with a 500."""

    async def echo(request: web.Request) -> web.Response:
        return web.json_response(await json_body(request))

    app = web.Application(middlewares=[error_middleware])
    app.router.add_post("/echo", echo)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        deep = "[" * 100_000 + "]" * 100_000
        resp = await client.post("/echo", data=deep, headers={"Content-Type": "application/json"})
        assert resp.status == 400
        assert (await resp.json())["message"] == "the body is nested too deeply"
        ok = await client.post("/echo", json={"a": [1, 2]})
        assert await ok.json() == {"a": [1, 2]}
