"""``taskyard api``: the producer API under uvicorn, several processes sharing one port."""

from __future__ import annotations

import click
import uvicorn

from workers.observability.multiproc import setup_multiprocess_metrics
from workers.settings import get_settings

#: How long uvicorn's parent waits for an API process to answer its health ping before it
#: kills and replaces it. uvicorn's default (5 s) counts the spawned child's imports, which
#: take longer than that on a loaded two-core machine: every replacement then starts just as
#: slowly and is killed again, a restart loop in which no process ever serves.
START_TIMEOUT_S = 60


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65_535), help="Port."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="API processes [default: TASKYARD_API_WORKERS, 2].",
)
def api(host: str, port: int, workers: int | None) -> None:
    """Serve the producer API on HOST:PORT with uvicorn (no access log).

    The processes share one Prometheus directory, so /metrics on any of them reports all
    of them. Stops on Ctrl-C or SIGTERM after in-flight requests finish.
    """
    setup_multiprocess_metrics()  # before uvicorn starts the processes, which inherit it
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or get_settings().api_workers,
        access_log=False,
        timeout_worker_healthcheck=START_TIMEOUT_S,
    )
