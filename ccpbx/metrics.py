"""``/metrics``: Prometheus exposition through ``prometheus-client``.

Components report gauges and counters as ``Sample`` providers (read when scraped,
from the state each component owns) and observe latencies into histograms the
registry creates. ``prometheus-client`` writes the text format: escaping, NaN and
infinities, histogram buckets. No global registry: each daemon (and each test app)
has its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# A `_created` timestamp beside every histogram series tells an operator nothing.
disable_created_metrics()

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Seconds, from a loopback AGI command (sub-millisecond) to a caller waiting minutes.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
WAIT_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    kind: str  # "gauge" | "counter"
    help: str
    value: float
    labels: tuple[tuple[str, str], ...] = ()


MetricsProvider = Callable[[], Iterable[Sample]]


def families(samples: Iterable[Sample]) -> list[Metric]:
    """Samples grouped into metric families by name (first sample's help and kind)."""
    found: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}
    for s in sorted(samples, key=lambda s: s.name):
        family = found.get(s.name)
        if family is None:
            labels = [k for k, _ in s.labels]
            family = (
                CounterMetricFamily(s.name, s.help, labels=labels)
                if s.kind == "counter"
                else GaugeMetricFamily(s.name, s.help, labels=labels)
            )
            found[s.name] = family
        family.add_metric([v for _, v in s.labels], s.value)
    return list(found.values())


class _Providers:
    """A collector that reads every provider at scrape time."""

    def __init__(self) -> None:
        self.providers: list[MetricsProvider] = []

    def collect(self) -> Iterator[Metric]:
        yield from families(s for provider in self.providers for s in provider())


class MetricsRegistry:
    def __init__(self) -> None:
        self._registry = CollectorRegistry(auto_describe=False)
        self._providers = _Providers()
        self._registry.register(self._providers)

    def register(self, provider: MetricsProvider) -> None:
        self._providers.providers.append(provider)

    def histogram(
        self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()
    ) -> Histogram:
        """A histogram of this registry (seconds); ``observe()`` it (``.labels(...)``
        first when it has labels) where the time is known."""
        return Histogram(
            name, help, labelnames=tuple(labels), buckets=tuple(buckets), registry=self._registry
        )

    def render(self) -> str:
        return generate_latest(self._registry).decode()
