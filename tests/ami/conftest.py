"""Fixtures for the AMI tests: a fake peer (fault injection only) and fast client settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import structlog

from ccpbx.ami import AmiClient

from .fake_peer import FakeAmi, fast_settings


@pytest.fixture
async def fake() -> AsyncIterator[FakeAmi]:
    """A fake AMI peer listening on 127.0.0.1, port chosen by the OS."""
    async with FakeAmi() as peer:
        yield peer


@pytest.fixture
def logs() -> Iterator[list[dict[str, Any]]]:
    """Structured log events emitted during the test."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
async def client(fake: FakeAmi) -> AsyncIterator[AmiClient]:
    """A started client logged in to the fake peer."""
    async with AmiClient(fast_settings(fake.port)) as c:
        await c.wait_ready(timeout=2)
        yield c
