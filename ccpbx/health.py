"""Component health for ``/status`` and ``/metrics``.

Each component (AMI link, database, FastAGI server, HTTP) registers a provider
that returns its current state; the status of the whole daemon is derived from
them, never stored twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ComponentStatus:
    name: str
    up: bool
    state: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"up": self.up, "state": self.state, **self.detail}


Provider = Callable[[], ComponentStatus]


class HealthRegistry:
    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def register(self, name: str, provider: Provider) -> None:
        self._providers[name] = provider

    def components(self) -> list[ComponentStatus]:
        return [provider() for provider in self._providers.values()]

    def snapshot(self) -> dict[str, Any]:
        parts = self.components()
        return {
            "status": "ok" if all(p.up for p in parts) else "degraded",
            "components": {p.name: p.to_dict() for p in parts},
        }
