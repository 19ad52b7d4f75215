"""/metrics exposition: what a Prometheus scrape of ccpbx reads."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from ccpbx.metrics import LATENCY_BUCKETS, MetricsRegistry, Sample


def test_samples_render_with_their_names_help_and_labels() -> None:
    """Counters and gauges keep the names components give them; help and label values
    are escaped; samples of one name become one family."""
    registry = MetricsRegistry()
    registry.register(
        lambda: [
            Sample("ccpbx_calls_total", "counter", "calls\nseen \\ here", 3, (("queue", 'a"b'),)),
            Sample("ccpbx_calls_total", "counter", "calls\nseen \\ here", 4, (("queue", "c"),)),
            Sample("ccpbx_channels", "gauge", "live channels", 7),
        ]
    )
    text = registry.render()
    assert "# HELP ccpbx_calls_total calls\\nseen \\\\ here" in text
    assert "# TYPE ccpbx_calls_total counter" in text
    assert 'ccpbx_calls_total{queue="a\\"b"} 3.0' in text
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert sorted(s.value for s in parsed["ccpbx_calls"].samples) == [3.0, 4.0]
    assert parsed["ccpbx_channels"].samples[0].value == 7.0


def test_a_nan_or_infinite_value_does_not_break_the_scrape() -> None:
    """A NaN or infinite figure is written as Prometheus spells it (the hand-written
    exposition failed the whole scrape on NaN)."""
    registry = MetricsRegistry()
    registry.register(
        lambda: [
            Sample("ccpbx_ratio", "gauge", "a ratio", float("nan")),
            Sample("ccpbx_wait", "gauge", "a wait", float("inf")),
        ]
    )
    text = registry.render()
    assert "ccpbx_ratio NaN" in text
    assert "ccpbx_wait +Inf" in text


def test_histograms_observe_latencies_into_buckets() -> None:
    """A histogram made by the registry is scraped with cumulative buckets, sum and count."""
    registry = MetricsRegistry()
    rtt = registry.histogram("ccpbx_test_seconds", "a latency", LATENCY_BUCKETS)
    for seconds in (0.0002, 0.003, 0.003, 2.0):
        rtt.observe(seconds)
    families = {f.name: f for f in text_string_to_metric_families(registry.render())}
    samples = {
        (s.name, s.labels.get("le")): s.value for s in families["ccpbx_test_seconds"].samples
    }
    assert samples[("ccpbx_test_seconds_bucket", "0.0005")] == 1
    assert samples[("ccpbx_test_seconds_bucket", "0.005")] == 3
    assert samples[("ccpbx_test_seconds_bucket", "+Inf")] == 4
    assert samples[("ccpbx_test_seconds_count", None)] == 4
    assert abs(samples[("ccpbx_test_seconds_sum", None)] - 2.0062) < 1e-9
