"""The OpenAPI document's operation names: ``create_job``, ``get_job``, ``replay_dead_letters``,
derived from each route's method and path (not from the Python function, which may change), so
generated clients keep their method names across refactors."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute

#: The verb of a method on a collection (``/v1/jobs``) and on one item (``/v1/jobs/{job_id}``).
COLLECTION_VERBS = {"GET": "list", "POST": "create"}
ITEM_VERBS = {"GET": "get", "PATCH": "update", "PUT": "replace", "DELETE": "delete"}
#: Paths whose shape says too little: named here, once.
NAMED: dict[tuple[str, str], str] = {
    ("POST", "/v1/jobs/batch"): "create_jobs",
    ("GET", "/v1/alerts/history"): "list_alert_history",
    ("POST", "/api/v2/alerts"): "receive_alertmanager_alerts",
    ("GET", "/healthz"): "check_liveness",
    ("GET", "/readyz"): "check_readiness",
}
_VERSION = re.compile(r"v\d+|api")


def singular(collection: str) -> str:
    """``deliveries`` -> ``delivery``, ``alert_rules`` -> ``alert_rule``."""
    if collection.endswith("ies"):
        return f"{collection[:-3]}y"
    return collection.removesuffix("s")


def operation_id(method: str, path: str) -> str:
    """The operation name of ``method path``: ``list_jobs``, ``create_job``, ``get_job``,
    ``replay_job`` (an action on an item), ``replay_dead_letters`` (one on a collection)."""
    named = NAMED.get((method, path))
    if named is not None:
        return named
    parts = [p.replace("-", "_") for p in path.strip("/").split("/") if not _VERSION.fullmatch(p)]
    if not parts or parts[0].startswith("{"):
        raise ValueError(f"no operation name for {method} {path}: add it to NAMED")
    collection, rest = parts[0], parts[1:]
    if not rest and method in COLLECTION_VERBS:
        noun = collection if method == "GET" else singular(collection)
        return f"{COLLECTION_VERBS[method]}_{noun}"
    if len(rest) == 1 and rest[0].startswith("{") and method in ITEM_VERBS:
        return f"{ITEM_VERBS[method]}_{singular(collection)}"
    if len(rest) == 2 and rest[0].startswith("{") and method == "POST":
        return f"{rest[1]}_{singular(collection)}"
    if len(rest) == 1 and method == "POST":
        return f"{rest[0]}_{collection}"
    raise ValueError(f"no operation name for {method} {path}: add it to NAMED")


def route_operation_id(route: APIRoute) -> str:
    """FastAPI's ``generate_unique_id_function``: a route serves one method here."""
    methods = sorted(route.methods or ())
    if len(methods) != 1:
        raise ValueError(f"{route.path_format} serves {methods}: give each method its own route")
    return operation_id(methods[0], route.path_format)
