"""``taskyard api``: the producer API under uvicorn, several processes sharing one port."""

from __future__ import annotations

import click
import uvicorn

from workers.settings import get_settings


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65_535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="API processes [default: TASKYARD_API_WORKERS, 2].",
)
def api(host: str, port: int, workers: int | None) -> None:
    """Serve the producer API (``api.app:create_app``), access log off.

    The processes share this command's Prometheus directory, so ``/metrics`` on any of them
    reports all of them. Stops on Ctrl-C or SIGTERM after in-flight requests finish.
    """
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers or get_settings().api_workers,
        access_log=False,
    )
