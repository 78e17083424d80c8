"""The API's admin-managed, named resources in tests: where each lives, a body that creates one,
and what the API fills in on creation; test_resources_api holds every one to one contract."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi.testclient import TestClient

from tasks.alerts.rules import DEFAULT_ANNOTATIONS
from tests.support.api import Headers


@dataclass(frozen=True)
class Resource:
    """A collection at ``path`` whose errors are ``<kind>_not_found`` and ``<kind>_conflict``;
    ``sample`` creates one, which reads back as ``sample`` with ``filled`` laid over it."""

    path: str
    kind: str
    sample: Mapping[str, Any]
    filled: Mapping[str, Any] = field(default_factory=dict)

    def create(self, client: TestClient, headers: Headers, **fields: Any) -> Any:
        """The response to creating the sample with ``fields`` changed."""
        return client.post(self.path, json={**self.sample, **fields}, headers=headers)


#: A template that renders against its sample data (its default channels are only names).
TEMPLATES = Resource(
    "/v1/templates",
    "template",
    {
        "name": "welcome",
        "subject": "Welcome, {{ user.name }}",
        "text": "Hello {{ user.name }},\nyou have {{ count }} new items.",
        "html": "<p>Hello {{ user.name }}</p>",
        "sample_data": {"user": {"name": "Ada"}, "count": 2},
        "default_channels": ["ops-mail", "ops-slack"],
    },
)
#: A subscription of the ``diag.*`` jobs' deaths; a channel named ``ops`` must exist.
SUBSCRIPTIONS = Resource(
    "/v1/subscriptions",
    "subscription",
    {"name": "billing-dead", "event": "job.dead", "match": "diag.*", "channels": ["ops"]},
    filled={"template": None, "enabled": True, "scanned_until": None},
)
#: A rule on the dead-letter set, with a window and an annotation template.
ALERT_RULES = Resource(
    "/v1/alert-rules",
    "alert_rule",
    {
        "name": "dead-growing",
        "source": "dead_jobs",
        "spec": {"window_s": 3600},
        "op": ">=",
        "threshold": 0,
        "interval_s": 10,
        "labels": {"team": "ops"},
        "annotations": {"summary": "{{ value }} dead jobs"},
    },
    filled={
        "spec": {"window_s": 3600, "job_type": None},
        "annotations": {**DEFAULT_ANNOTATIONS, "summary": "{{ value }} dead jobs"},
        "no_data": "ok",
        "on_error": "keep_last",
        "severity": "warning",
    },
)
#: A route to the ``ops`` channel, grouping by team.
ALERT_ROUTES = Resource(
    "/v1/alert-routes",
    "alert_route",
    {"name": "db", "matchers": ["team=db"], "channels": ["ops"], "group_by": ["team"]},
    filled={
        "matchers": [{"name": "team", "op": "=", "value": "db"}],
        "parent": None,
        "send_resolved": True,
        "continue": False,
    },
)
#: Critical alerts mute warnings of the same team.
INHIBIT_RULES = Resource(
    "/v1/inhibit-rules",
    "inhibit_rule",
    {"name": "crit-mutes-warn", "source_matchers": [{"name": "severity", "value": "critical"}],
     "target_matchers": [{"name": "severity", "value": "warning"}], "equal": ["team"]},
    filled={
        "source_matchers": [{"name": "severity", "op": "=", "value": "critical"}],
        "target_matchers": [{"name": "severity", "op": "=", "value": "warning"}],
    },
)  # fmt: skip
RESOURCES = (TEMPLATES, SUBSCRIPTIONS, ALERT_RULES, ALERT_ROUTES, INHIBIT_RULES)
