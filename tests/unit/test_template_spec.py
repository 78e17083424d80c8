"""A template's checks before it is stored, as a table: each refusal names its field (and the
line of a part that does not render); what passes comes back normalised."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tasks.notifications.errors import InvalidTemplate
from tasks.notifications.templates import (
    MAX_BODY_SOURCE,
    MAX_DATA_BYTES,
    MAX_DEFAULT_CHANNELS,
    MAX_SUBJECT_SOURCE,
    TemplateSpec,
    check_template,
)

GOOD = TemplateSpec(
    name="deploy.done",
    subject="{{ app }} deployed",
    text="{{ app }} {{ version }} is live.",
    html="<p>{{ app }}</p>",
    sample_data={"app": "billing", "version": "1.2"},
)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"name": "has space"}, "name", "not a usable name"),
        ({"name": "-leading"}, "name", "not a usable name"),
        ({"name": "ok\n"}, "name", "not a usable name"),
        ({"name": "x" * 201}, "name", "not a usable name"),
        ({"subject": "a\x00b"}, "subject", "NUL"),
        ({"text": "lone \ud800"}, "text", "lone surrogate"),
        ({"html": "x" * (MAX_BODY_SOURCE + 1)}, "html", f"at most {MAX_BODY_SOURCE}"),
        ({"subject": "x" * (MAX_SUBJECT_SOURCE + 1)}, "subject", f"at most {MAX_SUBJECT_SOURCE}"),
        ({"sample_data": {"k": "\x00"}}, "sample_data", "NUL"),
        ({"sample_data": {"k\x00": 1}}, "sample_data", "NUL"),
        ({"sample_data": {"k": float("nan")}}, "sample_data", "not JSON both stores hold"),
        ({"sample_data": {"k": "\udc00"}}, "sample_data", "not JSON both stores hold"),
        ({"sample_data": {"k": "x" * MAX_DATA_BYTES}}, "sample_data", f"{MAX_DATA_BYTES} bytes"),
        ({"sample_data": [1]}, "sample_data", "must be a JSON object"),
        ({"default_channels": ("ops", "no way")}, "default_channels", "not a usable name"),
        (
            {"default_channels": tuple(f"c{i}" for i in range(MAX_DEFAULT_CHANNELS + 1))},
            "default_channels",
            f"at most {MAX_DEFAULT_CHANNELS}",
        ),
        ({"sample_data": {"app": "x"}}, "text", "'version' is undefined"),
    ],
)
def test_a_refusal_names_its_field(changes: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(InvalidTemplate) as caught:
        check_template(replace(GOOD, **changes))

    assert caught.value.details[0]["field"] == field
    assert caught.value.message.startswith(field)
    assert words in caught.value.message


def test_a_part_that_does_not_render_names_its_line() -> None:
    with pytest.raises(InvalidTemplate) as caught:
        check_template(replace(GOOD, html="<p>\n{{ app }}\n{{ nope }}</p>"))

    assert caught.value.details == [
        {
            "field": "html",
            "line": 3,
            "message": "'nope' is undefined (give it in the data, or use |default) "
            "(rendering against sample_data)",
        }
    ]
    assert caught.value.message.startswith("html, line 3: 'nope' is undefined")


def test_a_good_template_comes_back_with_each_channel_once() -> None:
    checked = check_template(replace(GOOD, default_channels=("ops", "mail", "ops")))

    assert checked.default_channels == ("ops", "mail")
    assert checked.columns()["default_channels"] == ["ops", "mail"]
    assert check_template(replace(GOOD, html=None)).html is None
