"""Bare Celery under test: ``celery -A bench.bare_app`` workers and a plain producer."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from bench.bare_app import BROKER_ENV, CONF_ENV, MIRRORED, NOOP, PRIORITY_ENV, SLEEP, build_app
from bench.events import EventObserver
from bench.stack import BARE_DB, Services
from bench.system import CHUNK, Job, Sent, System, SystemName, purge_keeping_bindings

#: kombu's Redis defaults: four priority lists per queue, named with this separator.
KOMBU_SEP = "\x06\x16"
KOMBU_STEPS = (0, 3, 6, 9)


class BareSystem(System):
    """Bare Celery on Redis database ``BARE_DB`` (no store)."""

    name: SystemName = "bare"
    label = "bare Celery"
    worker_app = "bench.bare_app"

    def __init__(self, services: Services, mirrored: Mapping[str, Any]) -> None:
        super().__init__(services)
        self.broker_url = services.redis.url(BARE_DB)
        self.mirrored = {key: mirrored[key] for key in MIRRORED}
        self.app = build_app(self.broker_url, self.mirrored)
        self.redis = services.redis.client(BARE_DB)

    def reset(self) -> None:
        """Empty the queues."""
        purge_keeping_bindings(self.redis)

    def _send(self, job: Job, queue: str, producer: Any = None) -> str:
        name, args = (SLEEP, [job.ms]) if job.kind == "sleep" else (NOOP, [])
        return str(self.app.send_task(name, args=args, queue=queue, producer=producer).id)

    def publish(self, job: Job, count: int, queue: str) -> None:
        """Send ``count`` tasks, a chunk per producer."""
        for start in range(0, count, CHUNK):
            with self.app.producer_or_acquire() as producer:
                for _ in range(min(CHUNK, count - start)):
                    self._send(job, queue, producer)

    def send_one(self, job: Job, queue: str) -> Sent:
        """``send_task`` once."""
        at = time.time()
        return Sent(self._send(job, queue), at)

    def worker_env(self, priority: bool) -> dict[str, str]:
        """Taskyard's mirrored settings; ``priority`` adds ``queue_order_strategy='priority'``."""
        return {
            BROKER_ENV: self.broker_url,
            CONF_ENV: json.dumps(self.mirrored),
            PRIORITY_ENV: "1" if priority else "0",
        }

    def queue_keys(self, queue: str) -> list[str]:
        """kombu's default priority lists of ``queue``."""
        return [f"{queue}{KOMBU_SEP}{step}" if step else queue for step in KOMBU_STEPS]

    @contextmanager
    def observe(self, routing_key: str = "task.#") -> Iterator[EventObserver]:
        """Collect task events while the block runs."""
        with EventObserver(self.app, routing_key) as observer:
            yield observer
