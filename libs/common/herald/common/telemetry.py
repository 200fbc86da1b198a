"""OpenTelemetry tracing: one provider per process, W3C trace context in message headers.

Spans are always created (so trace ids appear in logs); they leave the process only when the
standard ``OTEL_*`` variables configure an OTLP endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; http/protobuf). ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none`` keep them in. Sampling follows ``OTEL_TRACES_SAMPLER``.

When exporting, asyncpg queries and httpx calls (platform APIs, webhook deliveries) get
client spans (not otherwise: they would cost CPU on every job for nothing); HTTP
requests get server spans from FastAPI's own telemetry (``TELEMETRY``); FastStream's middleware
carries the context through JetStream, so one trace runs from an approve request through the
publisher's attempt to the alert it raised.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

import structlog
from fastapi.telemetry import TelemetryConfig
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    Decision,
    Sampler,
    SamplingResult,
)
from opentelemetry.sdk.trace.sampling import (
    _get_from_env_or_default as sampling_from_env,  # what TracerProvider uses by default
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

log = structlog.get_logger(__name__)

_provider: TracerProvider | None = None
SUPPORTED_PROTOCOLS = ("", "http/protobuf")
NOT_TRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def export_wanted(env: Mapping[str, str]) -> bool:
    """Whether the standard variables ask for spans to be exported (pure)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",")}
    if "otlp" not in exporters:
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return any(env.get(name, "").strip() for name in endpoints)


def setup_tracing(service: str, env: Mapping[str, str] | None = None) -> TracerProvider:
    """Install the process-wide tracer provider and the client instrumentations (idempotent)."""
    global _provider
    if _provider is not None:
        return _provider
    env = os.environ if env is None else env
    # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are merged in by Resource.create
    name = env.get("OTEL_SERVICE_NAME") or f"herald-{service}"
    _provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: name}),
        sampler=SkipUnparentedClientSpans(sampling_from_env()),
    )
    trace.set_tracer_provider(_provider)
    if export_wanted(env):
        _provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(env)))
        # Client spans only where they leave the process: a span per query costs CPU on
        # every job, and the trace ids in the logs come from the operations' own spans.
        AsyncPGInstrumentor().instrument(tracer_provider=_provider)  # type: ignore[no-untyped-call]
        HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
    return _provider


def _otlp_exporter(env: Mapping[str, str]) -> OTLPSpanExporter:
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", ""
    )
    if protocol.strip().lower() not in SUPPORTED_PROTOCOLS:
        log.warning("telemetry.protocol_unsupported", protocol=protocol, using="http/protobuf")
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    log.info("telemetry.exporting", endpoint=endpoint, protocol="http/protobuf")
    return OTLPSpanExporter()  # endpoint, headers, timeout: from the OTEL_* variables


def untraced_request(scope: MutableMapping[str, Any]) -> bool:
    """FastAPI's own telemetry skips the probes and the metrics scrape (pure)."""
    return scope.get("type") == "http" and scope.get("path") in NOT_TRACED_PATHS


TELEMETRY: TelemetryConfig = {"exclude": untraced_request}
"""``FastAPI(telemetry=TELEMETRY)``: FastAPI's native OpenTelemetry server spans."""


class SkipUnparentedClientSpans(Sampler):
    """A database query or HTTP call outside any operation (a background loop's poll) would
    start a trace of its own every half second: those are not sampled. Everything else is
    decided by the sampler the ``OTEL_TRACES_SAMPLER`` variables configure."""

    def __init__(self, delegate: Sampler) -> None:
        self._delegate = delegate

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        parent = trace.get_current_span(parent_context).get_span_context()
        if kind == SpanKind.CLIENT and not parent.is_valid:
            return SamplingResult(Decision.DROP)
        return self._delegate.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"SkipUnparentedClientSpans{{{self._delegate.get_description()}}}"


def current_trace_headers() -> dict[str, str]:
    """The ``traceparent`` (and ``tracestate``) of the current span, for an outgoing message."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued(name: str, headers: Mapping[str, str]) -> Iterator[None]:
    """A span for work on one received message, in the trace its headers carry on: where no
    consumer span did it (a batch handler's work on one of its messages)."""
    with trace.get_tracer(__name__).start_as_current_span(name, context=propagate.extract(headers)):
        yield


def shutdown_tracing() -> None:
    """Flush the spans still queued for export."""
    if _provider is not None:
        _provider.shutdown()
