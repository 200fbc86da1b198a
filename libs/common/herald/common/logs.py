"""Structured JSON logs with trace ids and redacted secrets.

Every service calls ``configure_logging`` once at start-up; modules log through
``structlog.get_logger(__name__)`` with key-value context.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

REDACTED = "[redacted]"
SECRET_KEY = re.compile(
    r"(pass(word)?|secret|token|api[_-]?key|authorization|credential|cookie)", re.IGNORECASE
)
BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]+@")


def redact_value(value: Any) -> Any:
    """Mask secrets inside nested values: keys that name a secret, bearer tokens, URL passwords."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if SECRET_KEY.search(str(k)) else redact_value(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return URL_PASSWORD.sub(r"\1***@", BEARER.sub(r"\1" + REDACTED, value))
    return value


def redact_secrets(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor applying ``redact_value`` to every field."""
    for key in list(event):
        event[key] = REDACTED if SECRET_KEY.search(key) else redact_value(event[key])
    return event


def add_trace_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Attach the current OpenTelemetry trace and span ids, when there is a span."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def drop_noise(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Remove uvicorn's ANSI-coloured duplicate of the message."""
    event.pop("color_message", None)
    return event


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stdout for structlog and the standard library alike."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
        drop_noise,
        structlog.processors.format_exc_info,  # render tracebacks before redacting them
        redact_secrets,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO ("HTTP Request: POST <url>"): a line per platform
    # call, a tenth of the call's CPU, and a URL that may carry what should not be logged
    noisy_loggers = ("uvicorn.access", "faststream", "faststream.access", "herald.broker")
    for noisy in (*noisy_loggers, "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
