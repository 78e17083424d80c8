"""Label matchers, the one way routes, silences and inhibit rules select alerts.

A matcher is ``name op value`` with ``op`` one of ``=``, ``!=``, ``=~`` (the value is a
regular expression the whole label value must match) and ``!~``; a label an alert does not
have reads as the empty string, so ``team=""`` selects alerts without a team. A list of
matchers selects the alerts every one of them matches. A list that can match nothing (two
different required values of one label, a required value another matcher of the same label
refuses) is refused when it is saved, so a silence or route that can never apply is an error
at once rather than a surprise later."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any

from tasks.alerts.errors import InvalidAlertRoute, InvalidAlertRule, invalid

#: The most matchers one list holds, and the longest value one may have.
MAX_MATCHERS = 20
MAX_VALUE = 1_000
LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
#: ``name op value`` as text: the operator is the first ``=~``, ``!~``, ``!=`` or ``=``.
TEXT = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class MatchOp(StrEnum):
    """How a matcher compares a label's value."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One condition on one label."""

    name: str
    op: MatchOp
    value: str

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.value, re.DOTALL)

    def matches(self, value: str) -> bool:
        """Whether a label value (``""`` for a missing label) passes."""
        if self.op is MatchOp.EQUAL:
            return value == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return value != self.value
        found = self._pattern.fullmatch(value) is not None
        return found if self.op is MatchOp.REGEX else not found

    def document(self) -> dict[str, str]:
        """The matcher as stored and answered: ``{"name", "op", "value"}``."""
        return {"name": self.name, "op": self.op.value, "value": self.value}

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` pass every matcher (an empty list passes everything)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def parse_text(text: str) -> tuple[str, str, str]:
    """``'team=~"db|web"'`` as (name, op, value); the value may be quoted."""
    found = TEXT.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not name=value, name!=value, name=~regex or name!~regex")
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return name, op, value


def _one(raw: Any, field: str, kind: type[InvalidAlertRule]) -> Matcher:
    def bad(message: str) -> InvalidAlertRule:
        return invalid(field, message, kind)

    name: Any
    op: Any
    value: Any
    if isinstance(raw, str):
        try:
            name, op, value = parse_text(raw)
        except ValueError as error:
            raise bad(str(error)) from None
    elif isinstance(raw, Mapping):
        name, op, value = raw.get("name"), raw.get("op", "="), raw.get("value")
        extra = set(raw) - {"name", "op", "value"}
        if extra:
            raise bad(f"unknown keys {sorted(extra)}: a matcher has name, op, value")
    else:
        raise bad('must be "name=value" text or {"name", "op", "value"}')
    if not isinstance(name, str) or LABEL_NAME.fullmatch(name) is None:
        raise bad(f"{name!r} is not a label name ([A-Za-z_][A-Za-z0-9_]*)")
    if op not in {o.value for o in MatchOp}:
        raise bad(f"op {op!r} is not one of = != =~ !~")
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise bad(f"the value must be text of at most {MAX_VALUE} characters")
    matcher = Matcher(name, MatchOp(op), value)
    if matcher.op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
        try:
            _ = matcher._pattern
        except re.error as error:
            raise bad(f"{value!r} is not a regular expression: {error}") from None
    return matcher


def parse(
    raw: Any,
    field: str,
    *,
    required: bool = False,
    kind: type[InvalidAlertRule] = InvalidAlertRoute,
) -> tuple[Matcher, ...]:
    """A list of matchers from the API's or CLI's words, or a 422 naming ``field``: each
    matcher well formed, at most :data:`MAX_MATCHERS`, and the list able to match something."""

    def bad(message: str) -> InvalidAlertRule:
        return invalid(field, message, kind)

    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise bad("must be a list of matchers")
    if len(raw) > MAX_MATCHERS:
        raise bad(f"at most {MAX_MATCHERS} matchers")
    if required and not raw:
        raise bad("needs at least one matcher (an empty list matches every alert)")
    found = tuple(_one(item, f"{field}[{index}]", kind) for index, item in enumerate(raw))
    problem = unmatchable(found)
    if problem is not None:
        raise bad(f"can never match: {problem}")
    return found


def unmatchable(matchers: Sequence[Matcher]) -> str | None:
    """Why no label set passes ``matchers``, or ``None``. Exact for a label with a required
    value (``=``) and for a regular expression that matches nothing; lists of only negative
    or regex matchers are taken to be satisfiable."""
    by_name: dict[str, list[Matcher]] = {}
    for matcher in matchers:
        by_name.setdefault(matcher.name, []).append(matcher)
    for name, group in by_name.items():
        required = {m.value for m in group if m.op is MatchOp.EQUAL}
        if len(required) > 1:
            return f"{name} cannot equal both " + " and ".join(sorted(map(repr, required)))
        if required:
            value = next(iter(required))
            for matcher in group:
                if not matcher.matches(value):
                    return f"{name}={value!r} and {matcher} exclude each other"
    return None


def documents(matchers: Iterable[Matcher]) -> list[dict[str, str]]:
    """Matchers as stored (JSON)."""
    return [m.document() for m in matchers]


def loaded(stored: Iterable[Mapping[str, str]]) -> tuple[Matcher, ...]:
    """Stored matchers (already checked when saved) as :class:`Matcher` values."""
    return tuple(Matcher(m["name"], MatchOp(m["op"]), m["value"]) for m in stored)
