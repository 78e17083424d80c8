"""Templates in the store on both stores: a send's render, concurrent creates of one name,
and an edit racing a removal."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tasks.notifications import template_store as store
from tasks.notifications.errors import RenderError, TemplateConflict, TemplateNotFound
from tasks.notifications.templates import TemplateSpec


def spec(name: str) -> TemplateSpec:
    return TemplateSpec(
        name=name,
        subject="Build {{ build.id }} {{ build.status }}",
        text="Build {{ build.id }} finished: {{ build.status }}.",
        html="<b>{{ build.status }}</b>",
        sample_data={"build": {"id": 1, "status": "passed"}},
    )


def test_a_send_renders_the_stored_template_or_fails_with_a_reason(
    runtime: dict[str, str],
) -> None:
    record = store.create_template(spec("build-finished"))

    rendered = store.render_for_send(store.find_template("build-finished"), {
        "build": {"id": 7, "status": "<failed>"},
    })  # fmt: skip
    with pytest.raises(RenderError) as caught:
        store.render_for_send(record, {"build": {"id": 7}})

    assert (rendered.subject, rendered.html) == ("Build 7 <failed>", "<b>&lt;failed&gt;</b>")
    assert caught.value.reason.startswith("subject, line 1: ")
    assert "has no attribute 'status'" in caught.value.reason


def test_concurrent_creates_of_one_name_store_one(runtime: dict[str, str]) -> None:
    start = threading.Barrier(4)

    def create() -> str:
        start.wait()
        try:
            store.create_template(spec("raced"))
        except TemplateConflict:
            return "conflict"
        return "created"

    with ThreadPoolExecutor(4) as pool:
        outcomes = sorted(pool.map(lambda _: create(), range(4)))

    assert outcomes == ["conflict", "conflict", "conflict", "created"]
    assert store.find_template("raced").name == "raced"


def test_an_edit_of_a_removed_template_is_not_found(runtime: dict[str, str]) -> None:
    record = store.create_template(spec("gone"))
    store.delete_template(record.id)

    with pytest.raises(TemplateNotFound):
        store.update_template(record.id, {"text": "x"})
    with pytest.raises(TemplateNotFound):
        store.delete_template(record.id)


def test_updated_at_moves_on_an_edit(runtime: dict[str, str]) -> None:
    record = store.create_template(spec("edited"))

    edited = store.update_template(record.id, {"text": "Build {{ build.id }}."})

    assert edited.updated_at > record.updated_at
    assert edited.created_at == record.created_at
    assert store.get_template(record.id).text == "Build {{ build.id }}."
