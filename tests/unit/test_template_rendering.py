"""Rendering templates: strict undefined names, escaping in HTML only, the sandbox's refusals
(a table of known escape payloads), the bounds, and no error but ``RenderError``."""

from __future__ import annotations

import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasks.notifications.bounds import MAX_RANGE, MAX_VALUE_CHARS
from tasks.notifications.errors import RenderError
from tasks.notifications.rendering import (
    MAX_BODY_CHARS,
    MAX_RENDER_S,
    MAX_STEPS,
    MAX_SUBJECT_CHARS,
    Rendered,
    Sources,
    render,
)

DATA = {"user": {"name": "Ada <ada@example.com>"}, "count": 3, "items": ["a", "b"]}


def text_of(source: str, data: dict[str, object] | None = None) -> str:
    return render(Sources(subject="s", text=source), DATA if data is None else data).text


def refusal(source: str, *, part: str = "text") -> RenderError:
    sources = {"subject": "s", "text": "t", part: source}
    with pytest.raises(RenderError) as caught:
        render(Sources(**sources), DATA)
    assert caught.value.part == part
    return caught.value


def test_every_part_renders_against_the_data() -> None:
    sources = Sources(
        subject="{{ count }} new for {{ user.name }}",
        text="Hello {{ user.name }}{% for i in items %} {{ i }}{% endfor %}",
        html="<p>{{ user.name }}</p>",
    )

    rendered = render(sources, DATA)

    assert rendered == Rendered(
        subject="3 new for Ada <ada@example.com>",
        text="Hello Ada <ada@example.com> a b",
        html="<p>Ada &lt;ada@example.com&gt;</p>",
    )


def test_no_html_part_renders_to_none() -> None:
    assert render(Sources(subject="s", text="t"), {}).html is None


def test_an_undefined_name_is_an_error_naming_part_and_line() -> None:
    error = refusal("first line\n{{ missing }}")

    assert (error.part, error.line) == ("text", 2)
    assert "'missing' is undefined" in error.reason
    assert error.reason.startswith("text, line 2: ")


def test_an_undefined_attribute_is_an_error_but_default_covers_it() -> None:
    refusal("{{ user.email }}", part="html")

    assert text_of("{{ user.email | default('none') }}") == "none"


def test_a_syntax_error_names_its_line() -> None:
    error = refusal("ok\nok\n{% if %}", part="subject")

    assert error.line == 3
    assert "syntax error" in error.problem


def test_html_escapes_data_and_text_does_not() -> None:
    data = {"x": "<script>alert(1)</script> & 'q'"}
    rendered = render(Sources(subject="{{ x }}", text="{{ x }}", html="{{ x }}"), data)

    assert rendered.subject == data["x"]
    assert rendered.text == data["x"]
    assert rendered.html == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;q&#39;"


def test_html_concatenation_escapes_too() -> None:
    rendered = render(Sources("s", "t", html="{{ '<b>' ~ x }}"), {"x": "<i>"})

    assert rendered.html == "&lt;b&gt;&lt;i&gt;"


def test_the_subject_must_render_to_one_line() -> None:
    with pytest.raises(RenderError) as caught:
        render(Sources(subject="Hi {{ x }}", text="t"), {"x": "a\r\nBcc: evil@example.com"})
    error = caught.value
    assert error.part == "subject"
    assert "one line" in error.reason


#: Known ways out of Jinja2 templates into Python: none renders.
ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ lipsum.__globals__ }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ dict.__base__.__subclasses__() }}",
    "{{ items.__class__ }}",
    "{{ user._private }}",
    "{{ config.items() }}",
    "{{ request.application.__globals__ }}",
    "{{ ''|attr('__class__') }}",
    "{{ (''|attr('__class__')|attr('__mro__'))[1] }}",
    "{{ '{0.__class__}'.format(items) }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ '{0[0].__class__}'.format(items) }}",
    "{{ '{x.__class__}'.format_map({'x': 1}) }}",
    "{{ '%s'.__mod__ }}",
    "{{ items.append(1) }}",
    "{{ user.update(name='x') }}",
    "{{ user.clear() }}",
    "{% import os %}",
    "{% import 'os' as os %}{{ os.system('id') }}",
    "{% from 'os' import system %}{{ system('id') }}",
    "{% include '/etc/passwd' %}",
    "{% extends '/etc/passwd' %}",
    "{{ ''.encode('utf-8') }}",
    "{{ 'x'.center(10) }}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{{ [].__class__.__base__.__subclasses__() }}",
    "{{ (1).__class__ }}",
    "{{ items|map(attribute='__class__')|list }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
@pytest.mark.parametrize("part", ["subject", "text", "html"])
def test_sandbox_escapes_fail_to_render(payload: str, part: str) -> None:
    refusal(payload, part=part)


#: Templates that would allocate or loop far beyond a message: each refused at once.
BOMBS = [
    "{{ 'x' * 1000000000 }}",
    "{{ ['x'] * 1000000000 }}",
    "{{ 9 ** 999999 }}",
    "{{ ' '|center(1000000000) }}",
    "{{ 'x'|indent(1000000000) }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%*d' % (999999999, 1) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ '{:{}}'.format(1, 99999) * 10 }}",
    "{{ ('x' * 90000)|replace('x', 'y' * 90000) }}",
    "{{ ('x' * 90000).replace('x', 'yy') }}",
    "{{ ([('y' * 90000)] * 9000)|join }}",
    "{{ ('y' * 90000).join(['a'] * 9000) }}",
    "{{ ('a\n' * 40000)|indent(90000) }}",
    "{{ ('a ' * 40000)|wordwrap(1, wrapstring='x' * 90000) }}",
    "{{ items|tojson(indent=99999) }}",
    "{{ range(1000000)|list }}",
    "{{ range(3)|slice(1000000000) }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(s='xx') %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}",
    "{% set ns = namespace(n=2) %}{% for i in range(60) %}{% set ns.n = ns.n * ns.n %}{% endfor %}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(1) }}",
    "{% set x %}{% for i in range(10000) %}{{ 'y' * 90000 }}{% endfor %}{% endset %}",
    "{% macro m() %}{% for i in range(10000) %}{{ 'y' * 90000 }}{% endfor %}{% endmacro %}"
    "{{ m() }}",
    "{% filter upper %}{% for i in range(10000) %}{{ 'y' * 90000 }}{% endfor %}{% endfilter %}",
    "{{ ([['x'] * 90000] * 9000)|sum(start=[]) }}",
    "{{ '{:{w}}'.format_map({'w': 99999}) * 2 }}",
    "{{ '{0:{w}}{0:{w}}'.format_map({'w': 60000}) }}",
    "{{" + "(" * 5000 + "1" + ")" * 5000 + "}}",
    "{{" + "[" * 5000 + "]" * 5000 + "}}",
]


@pytest.mark.parametrize("payload", BOMBS)
def test_bounds_refuse_what_would_grow_without_limit(payload: str) -> None:
    started = time.monotonic()

    error = refusal(payload)

    # Stopped by a bound on what it builds or runs, not by the clock after building it.
    assert "took longer" not in error.reason
    assert time.monotonic() - started < MAX_RENDER_S


def test_the_output_of_a_part_is_bounded() -> None:
    body = "{% for i in range(n) %}{{ c }}{% endfor %}"
    times = MAX_BODY_CHARS // 1000

    assert len(render(Sources("s", body), {"c": "x" * 1000, "n": times}).text) == MAX_BODY_CHARS
    with pytest.raises(RenderError) as caught:
        render(Sources("s", body), {"c": "x" * 1000, "n": times + 1})
    assert f"exceeds {MAX_BODY_CHARS} characters" in caught.value.reason
    with pytest.raises(RenderError):
        render(Sources(subject=f"{{{{ 'x' * {MAX_SUBJECT_CHARS + 1} }}}}", text="t"), {})


def test_the_limits_leave_room_for_real_messages() -> None:
    body = "{% for i in range(" + str(MAX_RANGE) + ") %}{{ i }},{% endfor %}"

    assert text_of(body).startswith("0,1,2,")
    assert len(text_of("{{ 'x' * " + str(MAX_VALUE_CHARS) + " }}")) == MAX_VALUE_CHARS
    assert text_of("{{ '%5d|%-4s|' % (42, 'ab') }}") == "   42|ab  |"
    assert text_of("{{ '{:>6,}'.format(12345) }}") == "12,345"
    assert text_of("{{ items|join(', ') }} {{ 'a-b'.replace('-', '+') }}") == "a, b a+b"
    assert text_of("{{ 2 ** 10 }} {{ user.name|upper }}") == "1024 ADA <ADA@EXAMPLE.COM>"


def test_a_step_budget_stops_a_long_loop() -> None:
    error = refusal("{% for i in range(10000) %}{% for j in items * 200 %}{% endfor %}{% endfor %}")

    assert f"more than {MAX_STEPS} steps" in error.reason


def test_rendering_restores_the_callers_trace_function() -> None:
    def tracer(*_: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        text_of("{{ count }}")
        refusal("{{ missing }}")
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


#: Pieces of Jinja2 syntax, so that generated sources reach the parser's and runtime's corners.
TOKENS = ["{{", "}}", "{%", "%}", "{#", "#}", " for x in ", " endfor ", " if ", " endif ", " set ",
          "x", "items", "user", ".", "name", "__class__", "|", "upper", "join", "replace(",
          "format(", "(", ")", "[", "]", "'", "*", "**", "~", "+", "%", "9", "99999", ",",
          "range(", "namespace(", "=", "-", " ", "\n", "loop.index", "attr(", "é"]  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    source=st.lists(st.sampled_from(TOKENS), max_size=30).map("".join) | st.text(max_size=80),
    data=st.dictionaries(st.sampled_from(["x", "items", "user", "name"]), JSON, max_size=4),
    part=st.sampled_from(["subject", "text", "html"]),
)
def test_any_text_renders_or_fails_with_render_error(
    source: str, data: dict[str, object], part: str
) -> None:
    sources = {"subject": "s", "text": "t", part: source}
    try:
        render(Sources(**sources), data)
    except RenderError as error:
        failed_part = error.part
    else:
        failed_part = part
    assert failed_part == part
