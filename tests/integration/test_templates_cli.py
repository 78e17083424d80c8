"""``taskyard templates`` on both stores: add, list, show, preview, remove; one-line errors
with the CLI's exit codes, naming the option and line."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tasks.notifications import template_store as store
from tests.support.cli import last_line, one_line_failure, run


@pytest.fixture
def sources(tmp_path: Path) -> dict[str, str]:
    text = tmp_path / "welcome.txt"
    text.write_text("Hello {{ user.name }},\nyou have {{ count }} new items.\n")
    html = tmp_path / "welcome.html"
    html.write_text("<p>Hello {{ user.name }}</p>")
    broken = tmp_path / "broken.txt"
    broken.write_text("line one\n{{ nobody.name }}")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("caf\xe9".encode("latin-1"))
    return {"text": str(text), "html": str(html), "broken": str(broken), "latin": str(latin)}


def add(name: str, sources: dict[str, str], *extra: str) -> list[str]:
    return ["templates", "add", name, "--subject", "Welcome, {{ user.name }}", "--text-file",
            sources["text"], "--sample-data", '{"user": {"name": "Ada"}, "count": 2}',
            *extra]  # fmt: skip


def test_add_stores_the_template_and_prints_its_id(
    runtime: dict[str, str], sources: dict[str, str]
) -> None:
    result = run(*add("welcome", sources, "--html-file", sources["html"], "--channel", "ops"))

    record = store.get_template(uuid.UUID(last_line(result)))
    assert (record.name, record.subject) == ("welcome", "Welcome, {{ user.name }}")
    assert record.text.startswith("Hello {{ user.name }}")
    assert record.html == "<p>Hello {{ user.name }}</p>"
    assert (record.sample_data, record.default_channels) == (
        {"user": {"name": "Ada"}, "count": 2}, ["ops"],
    )  # fmt: skip


def test_list_and_show_describe_templates(runtime: dict[str, str], sources: dict[str, str]) -> None:
    assert run(*add("listed", sources)).exit_code == 0

    listed = run("templates", "list")
    shown = run("templates", "show", "listed")

    assert listed.exit_code == 0, listed.output
    row = next(line for line in listed.stdout.splitlines() if "listed" in line)
    assert "Welcome, {{ user.name }}" in row
    assert shown.exit_code == 0, shown.output
    assert "Hello {{ user.name }}," in shown.stdout
    assert '"count": 2' in shown.stdout


def test_preview_renders_against_sample_data_or_given_data(
    runtime: dict[str, str], sources: dict[str, str]
) -> None:
    assert run(*add("previewed", sources, "--html-file", sources["html"])).exit_code == 0

    sample = run("templates", "preview", "previewed")
    given = run(
        "templates", "preview", "previewed", "--data", '{"user": {"name": "<B>"}, "count": 5}'
    )

    assert sample.exit_code == 0, sample.output
    assert "Subject: Welcome, Ada" in sample.stdout
    assert "you have 2 new items." in sample.stdout
    assert "you have 5 new items." in given.stdout
    assert "<p>Hello &lt;B&gt;</p>" in given.stdout


def test_a_template_that_does_not_render_is_refused_naming_option_and_line(
    runtime: dict[str, str], sources: dict[str, str]
) -> None:
    arguments = add("broken", sources)
    arguments[arguments.index("--text-file") + 1] = sources["broken"]

    line = one_line_failure(run(*arguments), 2)

    assert line.startswith("taskyard: --text-file, line 2: 'nobody' is undefined")
    assert one_line_failure(run("templates", "show", "broken"), 1).endswith(
        "`taskyard templates list` shows them"
    )


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (("NAME", "has space"), "NAME: 'has space' is not a usable name"),
        (("--sample-data", "[1]"), "--sample-data must be a JSON object"),
        (("--sample-data", "{nope"), "--sample-data is not valid JSON"),
        (("--subject", "{% if %}"), "--subject, line 1: syntax error"),
        (("--subject", "{{ ''.__class__ }}"), "--subject, line 1: refused by the sandbox"),
        (("--text-file", "/nonexistent/file"), "--text-file: cannot read /nonexistent/file"),
        (("--text-file", "latin"), "is not UTF-8 text"),
        (("--channel", "no way"), "--channel: 'no way' is not a usable name"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    runtime: dict[str, str], sources: dict[str, str], change: tuple[str, str], words: str
) -> None:
    option, value = change
    arguments = add("bad-input", sources)
    if option == "NAME":
        arguments[2] = value
    elif option in arguments:
        arguments[arguments.index(option) + 1] = sources.get(value, value)
    else:
        arguments += [option, value]

    assert words in one_line_failure(run(*arguments), 2)


def test_preview_with_data_that_does_not_render_is_exit_2(
    runtime: dict[str, str], sources: dict[str, str]
) -> None:
    assert run(*add("strict", sources)).exit_code == 0

    line = one_line_failure(run("templates", "preview", "strict", "--data", "{}"), 2)

    assert "subject, line 1: 'user' is undefined" in line


def test_a_taken_name_and_an_unknown_one_exit_1(
    runtime: dict[str, str], sources: dict[str, str]
) -> None:
    assert run(*add("twice", sources)).exit_code == 0

    assert "exists already" in one_line_failure(run(*add("twice", sources)), 1)
    assert "no template named 'ghost'" in one_line_failure(run("templates", "remove", "ghost"), 1)
    assert "no template named 'ghost'" in one_line_failure(run("templates", "preview", "ghost"), 1)


def test_remove_deletes_the_template(runtime: dict[str, str], sources: dict[str, str]) -> None:
    assert run(*add("short-lived", sources)).exit_code == 0

    result = run("templates", "remove", "short-lived")

    assert result.exit_code == 0, result.output
    assert "is removed" in result.stdout
    one_line_failure(run("templates", "show", "short-lived"), 1)
