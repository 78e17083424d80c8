"""The bench's vocabulary: a plan (sizes and repeats), workloads, their metrics and measurements."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bench.bare_side import BareSystem
    from bench.stack import Services
    from bench.system import System
    from bench.taskyard_side import TaskyardSystem


@dataclass(frozen=True)
class Plan:
    """How big and how often: ``scale`` multiplies every default size; ``full`` uses the
    issue's sizes where the default cuts them to fit the 15-minute budget."""

    scale: float = 1.0
    repeats: int = 3
    full: bool = False

    def size(self, issue: int, default: int, minimum: int = 1) -> int:
        """A workload's size: the issue's (``full``) or the default, times ``scale``."""
        return max(minimum, round((issue if self.full else default) * self.scale))


@dataclass(frozen=True)
class Target:
    """A promise from the issue, checked on the medians (Taskyard's, bare Celery's)."""

    text: str
    met: Callable[[float, float | None], bool]


@dataclass(frozen=True)
class Metric:
    """One row of the table: ``key`` in each system's measurement metrics (``bare_key`` for the
    bare column when it differs, e.g. a Taskyard variant against plain bare Celery)."""

    key: str
    label: str
    target: Target | None = None
    bare_key: str | None = None
    higher_is_better: bool = True

    @property
    def bare(self) -> str:
        """The metric key read for the bare Celery column."""
        return self.bare_key or self.key


def lower_is_better(key: str, label: str, target: Target | None = None) -> Metric:
    """A metric whose smaller figure is the better one (times, memory)."""
    return Metric(key, label, target, higher_is_better=False)


@dataclass
class Measurement:
    """What one repeat of a workload measured on one system."""

    workload: str
    system: str
    repeat: int
    metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class Context:
    """What a workload runs against."""

    plan: Plan
    services: Services
    taskyard: TaskyardSystem
    bare: BareSystem
    #: Taskyard with ``TASKYARD_SPEEDUPS=off``, for the workloads the speedups serve.
    plain: TaskyardSystem
    notes: list[str] = field(default_factory=list)

    def in_turn(self, repeat: int, *, plain: bool = False) -> list[System]:
        """Taskyard and bare Celery back to back (and, when asked, Taskyard with its speedups
        off on bare Celery's other side), in reverse order on every other repeat: each
        Taskyard figure has a bare Celery one measured just before or after it, and drift on a
        shared machine evens out over the repeats."""
        systems: list[System] = [self.taskyard, self.bare, *([self.plain] if plain else [])]
        return systems if repeat % 2 else systems[::-1]

    def note(self, text: str) -> None:
        """Record a sentence for the report (a size cut, a method, an anomaly)."""
        if text not in self.notes:
            self.notes.append(text)


Runner = Callable[[Context], Iterator[Measurement]]


@dataclass(frozen=True)
class Workload:
    """A workload of the issue; ``run`` is ``None`` while it cannot be measured yet."""

    name: str
    title: str
    metrics: tuple[Metric, ...]
    run: Runner | None
    method: str = ""
    pending_reason: str = ""
