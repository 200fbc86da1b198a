"""OpenTelemetry tracing: one provider per process, W3C trace context in message headers.

Spans are always created (so trace ids appear in logs); they are exported only when the
standard ``OTEL_EXPORTER_OTLP_*`` variables configure an exporter.
"""

from __future__ import annotations

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider

_provider: TracerProvider | None = None


def setup_tracing(service: str) -> TracerProvider:
    """Install the process-wide tracer provider (idempotent)."""
    global _provider
    if _provider is None:
        _provider = TracerProvider(resource=Resource.create({"service.name": f"herald-{service}"}))
        trace.set_tracer_provider(_provider)
    return _provider


def current_trace_headers() -> dict[str, str]:
    """The ``traceparent`` (and ``tracestate``) of the current span, for an outgoing message."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


def shutdown_tracing() -> None:
    if _provider is not None:
        _provider.shutdown()
