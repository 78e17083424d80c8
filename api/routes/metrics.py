"""``GET /metrics``: Prometheus exposition of every process sample plus scrape-time gauges."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.surfaces import metrics_token
from workers.observability.collectors import (
    JobStatusCollector,
    QueueAgeCollector,
    QueueDepthCollector,
)
from workers.observability.metrics import multiprocess_registry

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(metrics_token)])
def metrics() -> Response:
    """Job counters and durations, API requests, queue depth and oldest age, jobs per status
    (no API key; ``TASKYARD_METRICS_TOKEN`` when it is set)."""
    registry = multiprocess_registry()
    registry.register(QueueDepthCollector())
    registry.register(QueueAgeCollector())
    registry.register(JobStatusCollector())
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
