"""OpenTelemetry traces, when ``TASKYARD_TRACING=on``: one trace follows a job from the API
request to the worker's outcome, across processes.

Every process calls :func:`install` from its entry point (the API's ``create_app``, the
worker's pool processes, beat, the dispatcher). Off (the default), nothing of the SDK is
imported (FastAPI imports OpenTelemetry's API package itself) and every hook below is one test
of :data:`ACTIVE`. On, the SDK exports over
OTLP/HTTP configured by the standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ``OTEL_TRACES_SAMPLER``...), and the instrumentations make the spans of
the libraries: FastAPI's own request span, Celery's ``run/<task>`` span in the worker (parented by
the context the message carries). Not redis-py's commands: every worker's broker poll would be
a trace of its own (the publish span stands for the push). Not the SQLAlchemy instrumentation
either, whose supported range stops before SQLAlchemy 2.1: :func:`trace_statements` makes the
store's statements client spans from SQLAlchemy's own cursor events.

Taskyard's own spans: ``taskyard.enqueue`` (a producer batch: its inserts and its publish),
``taskyard.publish`` (a ``PRODUCER`` span whose context goes into every message's W3C
``traceparent`` header, on both publishing paths: ``send_task`` and the speedups' pipelined
push) and ``taskyard.dispatch`` (a dispatcher batch).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine, event

from workers.messages import Message
from workers.settings import get_settings

#: Whether this process exports spans; set once by :func:`install`.
ACTIVE = False
#: A W3C trace context as message headers carry it (``traceparent``, ``tracestate``).
Carrier = dict[str, str]
TRACER_NAME = "taskyard"
#: The most characters of a statement a span keeps.
MAX_STATEMENT = 2000
_SPANS_KEY = "taskyard_trace_spans"
#: Requests that make no span: probes and scrapes.
UNTRACED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_NO_SPAN: AbstractContextManager[None] = nullcontext()


def install(component: str) -> bool:
    """Start exporting spans from this process as ``component`` (``api``, ``worker``, ``beat``,
    ``dispatcher``) when ``TASKYARD_TRACING`` is on; returns whether it is."""
    global ACTIVE
    if ACTIVE or not get_settings().tracing:
        return ACTIVE
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Attributes given here win over OTEL_RESOURCE_ATTRIBUTES in Resource.create, so the
    # service name is the SDK's variable when set, else the component's.
    resource = Resource.create(
        {"service.name": os.environ.get("OTEL_SERVICE_NAME") or f"taskyard-{component}",
         "service.namespace": "taskyard", "taskyard.component": component}
    )  # fmt: skip
    provider = TracerProvider(resource=resource)  # OTEL_TRACES_SAMPLER is read here
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    ACTIVE = True
    return True


def trace_statements(engine: Engine) -> None:
    """Make each statement ``engine`` runs a client span (its text holds placeholders, never
    values); nothing when off. Called once per engine, where the store builds them."""
    if not ACTIVE:
        return
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER_NAME)
    system = engine.dialect.name

    def before(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        attributes = {"db.system.name": system, "db.query.text": statement[:MAX_STATEMENT]}
        span = tracer.start_span(verb, kind=trace.SpanKind.CLIENT, attributes=attributes)
        conn.info.setdefault(_SPANS_KEY, []).append(span)

    def after(conn: Any, *_: Any) -> None:
        if spans := conn.info.get(_SPANS_KEY):
            spans.pop().end()

    def failed(context: Any) -> None:
        spans = context.connection.info.get(_SPANS_KEY) if context.connection else None
        if spans:
            span = spans.pop()
            span.set_status(trace.StatusCode.ERROR, type(context.original_exception).__name__)
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)


def statement_span(system: str, statement: str) -> AbstractContextManager[None]:
    """A client span for a statement run below SQLAlchemy's events (the speedups' prepared
    writes), as :func:`trace_statements` makes for the others; nothing when off."""
    return _statement_span(system, statement) if ACTIVE else _NO_SPAN


@contextmanager
def _statement_span(system: str, statement: str) -> Iterator[None]:
    from opentelemetry import trace

    verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    attributes = {"db.system.name": system, "db.query.text": statement[:MAX_STATEMENT]}
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(verb, kind=trace.SpanKind.CLIENT, attributes=attributes):
        yield


def flush(timeout_s: float = 5.0) -> None:
    """Export what is buffered (a process about to exit, a pool child retiring)."""
    if ACTIVE:
        from opentelemetry import trace

        provider: Any = trace.get_tracer_provider()
        provider.force_flush(int(timeout_s * 1000))


def current_ids() -> tuple[str, str] | None:
    """The current span's trace id and span id in hex, for log lines; ``None`` outside one."""
    if not ACTIVE:
        return None
    from opentelemetry import trace

    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


def carrier() -> Carrier | None:
    """The current trace context as headers, to hand to work done elsewhere; ``None`` when
    off or outside a span."""
    if not ACTIVE:
        return None
    from opentelemetry.propagate import inject

    headers: Carrier = {}
    inject(headers)
    return headers or None


def enqueue_span(carriers: Sequence[Carrier | None]) -> AbstractContextManager[None]:
    """The span around one producer batch, for requests whose contexts are ``carriers``: a
    child of their request when they all come from one, else a new trace linked to each."""
    if not ACTIVE:
        return _NO_SPAN
    return _batch_span("taskyard.enqueue", carriers)


def dispatch_span() -> AbstractContextManager[None]:
    """The span around one dispatcher batch (delayed, retried or recovered jobs)."""
    return _batch_span("taskyard.dispatch", []) if ACTIVE else _NO_SPAN


@contextmanager
def _batch_span(name: str, carriers: Sequence[Carrier | None]) -> Iterator[None]:
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    distinct = {tuple(sorted(c.items())) for c in carriers if c}
    links: list[trace.Link] = []
    parent = None
    if len(distinct) == 1:
        parent = extract(dict(next(iter(distinct))))
    else:
        for items in distinct:
            linked = trace.get_current_span(extract(dict(items))).get_span_context()
            links.append(trace.Link(linked))
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, context=parent, links=links) as span:
        span.set_attribute("taskyard.requests", len(carriers))
        yield


def publish_traced(
    messages: Sequence[Message], send: Callable[[Sequence[Message]], None], one_by_one: bool
) -> None:
    """``send(messages)`` inside a ``taskyard.publish`` span whose context every message
    carries in its headers; ``one_by_one`` sends each message on its own with the span current
    (Celery's instrumentation then adds its ``apply_async`` span beneath it)."""
    from opentelemetry import trace

    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span("taskyard.publish", kind=trace.SpanKind.PRODUCER) as span:
        span.set_attribute("messaging.system", get_settings().broker_family)
        span.set_attribute("messaging.batch.message_count", len(messages))
        if len(messages) == 1:
            span.set_attribute("messaging.message.id", messages[0].job_id)
            span.set_attribute("messaging.destination.name", messages[0].queue)
        trace_headers = carrier()
        traced = [dataclasses.replace(m, trace=trace_headers) for m in messages]
        if one_by_one:
            for message in traced:
                send([message])
        else:
            send(traced)
