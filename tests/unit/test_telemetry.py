"""When spans leave the process, which requests are traced, and which spans are sampled."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from herald.common.telemetry import SkipUnparentedClientSpans, export_wanted, untraced_request


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, False),  # off unless configured
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
    ],
)
def test_spans_are_exported_only_when_the_standard_variables_say_so(
    env: dict[str, str], wanted: bool
) -> None:
    assert export_wanted(env) is wanted


def test_probes_and_the_metrics_scrape_are_not_traced() -> None:
    assert untraced_request({"type": "http", "path": "/readyz"})
    assert untraced_request({"type": "http", "path": "/metrics"})
    assert not untraced_request({"type": "http", "path": "/v1/assets"})


def test_a_query_outside_any_operation_is_not_sampled_but_one_inside_is() -> None:
    sampler = SkipUnparentedClientSpans(ALWAYS_ON)
    alone = sampler.should_sample(None, 1, "SELECT", SpanKind.CLIENT)
    assert alone.decision is Decision.DROP
    parent = SpanContext(2, 3, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    inside = trace.set_span_in_context(NonRecordingSpan(parent))
    assert sampler.should_sample(inside, 2, "SELECT", SpanKind.CLIENT).decision is (
        Decision.RECORD_AND_SAMPLE
    )
    root = sampler.should_sample(None, 4, "alert.rules", SpanKind.INTERNAL)
    assert root.decision is Decision.RECORD_AND_SAMPLE  # operations still start traces
