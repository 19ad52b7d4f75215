"""A small Prometheus text-format exposition, fed by providers (no global registry)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    kind: str  # "gauge" | "counter"
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


MetricsProvider = Callable[[], Iterable[Sample]]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(samples: Iterable[Sample]) -> str:
    lines: list[str] = []
    seen: set[str] = set()
    for sample in samples:
        if sample.name not in seen:
            seen.add(sample.name)
            lines.append(f"# HELP {sample.name} {sample.help}")
            lines.append(f"# TYPE {sample.name} {sample.kind}")
        labels = ",".join(f'{k}="{_escape(v)}"' for k, v in sample.labels)
        value = (
            repr(float(sample.value))
            if sample.value != int(sample.value)
            else str(int(sample.value))
        )
        lines.append(f"{sample.name}{{{labels}}} {value}" if labels else f"{sample.name} {value}")
    return "\n".join(lines) + "\n"


class MetricsRegistry:
    def __init__(self) -> None:
        self._providers: list[MetricsProvider] = []

    def register(self, provider: MetricsProvider) -> None:
        self._providers.append(provider)

    def collect(self) -> list[Sample]:
        samples = [s for provider in self._providers for s in provider()]
        samples.sort(key=lambda s: s.name)
        return samples

    def render(self) -> str:
        return render(self.collect())
