"""``taskyard alerts``: alert rules (``alerts rules add|list|show|pause|resume|remove``), the
alerts they raise (``alerts list``), their history (``alerts history``), and where their
notices go (``alerts routes``, ``alerts inhibit-rules``: ``cli/alert_routing.py``).

Changes go to the store; the evaluator (``maintenance.alerts``, every 10 s) reads them on its
next tick.
"""

from __future__ import annotations

import json

import click

from cli import alert_routing, options
from cli.output import Rows, UsageProblem, console, note, table, truncated, when
from cli.resources import in_option_words, list_command, remove_command, show_command
from cli.text import NAME
from tasks.alerts import instances
from tasks.alerts import rule_store as store
from tasks.alerts.decision import Op, Policy
from tasks.alerts.errors import InvalidAlertRule
from tasks.alerts.rules import DEFAULT_ANNOTATIONS, RuleSpec, Severity
from tasks.alerts.sources import SourceKind
from tasks.alerts.states import AlertState
from workers.store.models import AlertRule

RULE_COLUMNS = ("name", "source", "condition", "for", "every", "severity", "paused", "last error")
ALERT_COLUMNS = ("rule", "labels", "state", "since", "last value", "last error")
HISTORY_COLUMNS = ("at", "rule", "labels", "event", "from", "to", "value", "notice")
#: The help of ``rules list``, ``show`` and ``remove``, and what ``list`` says when there are none.
LIST_HELP = "Rules, newest first: source, condition, timers, paused, last error."
SHOW_HELP = "Rule NAME: every setting and its last evaluation."
REMOVE_HELP = "Remove rule NAME with its alerts and history (firing ones are RESOLVED first)."
NONE_YET = ("No alert rules yet; add one with `taskyard alerts rules add NAME --source "
            "queue_depth --op '>' --threshold 1000`.")  # fmt: skip
#: The store's field names as the options of ``rules add`` that set them, for error messages.
OPTION_OF = {"name": "NAME", "source": "--source", "spec": "--spec", "op": "--op",
             "threshold": "--threshold", "recovery_threshold": "--recovery-threshold",
             "for_s": "--for", "keep_firing_for_s": "--keep-firing-for", "labels": "--label",
             "severity": "--severity", "annotations.summary": "--summary",
             "annotations.description": "--description", "interval_s": "--every",
             "no_data": "--no-data", "on_error": "--on-error", "channels": "--channel"}  # fmt: skip
#: Fields whose refusals name a field inside them (``spec.query``): the path follows the option.
NESTED = ("spec", "labels")
_POLICIES = click.Choice([p.value for p in Policy])


def _labels(pairs: tuple[str, ...]) -> dict[str, str]:
    labels = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals:
            raise UsageProblem(f"--label: {pair[:50]!r} is not NAME=VALUE")
        labels[name] = value
    return labels


def condition(record: AlertRule) -> str:
    """``>= 3`` (``recover < 1``)."""
    text = f"{record.op} {record.threshold:g}"
    if record.recovery_threshold is not None:
        text += f" (recovers past {record.recovery_threshold:g})"
    return text


def _rule_row(record: AlertRule) -> tuple[str, ...]:
    return (record.name, record.source, condition(record), f"{record.for_s} s",
            f"{record.interval_s} s", record.severity, "yes" if record.paused else "no",
            truncated(record.last_error, 40) if record.last_error else "-")  # fmt: skip


RULES = Rows(RULE_COLUMNS, _rule_row)


def _shown_labels(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"


@click.group()
def alerts() -> None:
    """Alert rules, the alerts they raise, their history, routes and inhibit rules."""


@alerts.group()
def rules() -> None:
    """Alert rules: add, list, show, pause, resume, remove."""


@rules.command()
@click.argument("name")
@click.option("--source", required=True, type=click.Choice([k.value for k in SourceKind]))
@click.option(
    "--spec",
    default="{}",
    show_default=True,
    metavar="JSON",
    help='The source\'s settings, e.g. \'{"queue": "default"}\' or \'{"query": "..."}\'.',
)
@click.option("--op", required=True, type=click.Choice([o.value for o in Op]))
@click.option("--threshold", required=True, type=float, help="What the value is compared with.")
@click.option("--recovery-threshold", type=float, help="A firing alert recovers past this.")
@click.option(
    "--for",
    "for_s",
    type=int,
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="True this long before it fires.",
)
@click.option(
    "--keep-firing-for",
    "keep_s",
    type=int,
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="False this long before it is RESOLVED.",
)
@click.option("--label", "labels", multiple=True, metavar="NAME=VALUE", help="A label.")
@click.option(
    "--severity",
    type=click.Choice([s.value for s in Severity]),
    default=Severity.WARNING.value,
    show_default=True,
)
@click.option("--summary", metavar="TEMPLATE", help="Summary template (Jinja2, one line).")
@click.option("--description", metavar="TEMPLATE", help="Description template (Jinja2).")
@click.option(
    "--every",
    type=int,
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="Evaluate every SECONDS (a multiple of 10).",
)
@click.option("--no-data", type=_POLICIES, default=Policy.OK.value, show_default=True)
@click.option("--on-error", type=_POLICIES, default=Policy.KEEP_LAST.value, show_default=True)
@click.option(
    "--channel", "channels", multiple=True, metavar="NAME", help="A channel its notices go to."
)
@click.option("--paused", is_flag=True, help="Add it paused.")  # fmt: skip
def add(name: str, source: str, spec: str, op: str, threshold: float,
        recovery_threshold: float | None, for_s: int, keep_s: int, labels: tuple[str, ...],
        severity: str, summary: str | None, description: str | None, every: int,
        no_data: str, on_error: str, channels: tuple[str, ...], paused: bool) -> None:  # fmt: skip
    """Add rule NAME; prints its id last."""
    annotations = dict(DEFAULT_ANNOTATIONS)
    if summary is not None:
        annotations["summary"] = summary
    if description is not None:
        annotations["description"] = description
    rule = RuleSpec(
        name=name, source=SourceKind(source), op=Op(op), threshold=threshold,
        spec=options.json_object("--spec", spec),
        recovery_threshold=recovery_threshold, for_s=for_s, keep_firing_for_s=keep_s,
        labels=_labels(labels), severity=Severity(severity), annotations=annotations,
        interval_s=every, no_data=Policy(no_data), on_error=Policy(on_error),
        channels=channels, paused=paused,
    )  # fmt: skip
    with in_option_words(InvalidAlertRule, OPTION_OF, nested=NESTED):
        record = store.create_rule(rule)
    state = "paused" if record.paused else f"evaluated every {record.interval_s} s"
    note(f"Added alert rule {record.name!r} ({record.source} {condition(record)}), {state}.")
    click.echo(str(record.id))


def _fields(record: AlertRule) -> list[tuple[str, str]]:
    return [
        ("name", record.name), ("source", record.source),
        ("spec", json.dumps(record.spec, ensure_ascii=False)), ("condition", condition(record)),
        ("for", f"{record.for_s} s"), ("keep firing for", f"{record.keep_firing_for_s} s"),
        ("every", f"{record.interval_s} s"), ("labels", _shown_labels(record.labels)),
        ("severity", record.severity), ("no data", record.no_data),
        ("on error", record.on_error), ("channels", ", ".join(record.channels) or "-"),
        ("paused", "yes" if record.paused else "no"), ("last slot", when(record.last_slot_at)),
        ("last error", record.last_error or "-"),
    ]  # fmt: skip


def _print_annotations(record: AlertRule) -> None:
    out = console()
    for part in ("summary", "description"):
        out.print(f"\n--- {part} ---\n{record.annotations.get(part, '')}")


def _set_paused(name: str, paused: bool) -> AlertRule:
    return store.set_paused(store.find_rule(name).id, paused)


@rules.command()
@click.argument("name", type=NAME)
def pause(name: str) -> None:
    """Pause rule NAME: nothing is evaluated; its alerts keep their state."""
    click.echo(f"Alert rule {_set_paused(name, True).name!r} is paused.")


@rules.command()
@click.argument("name", type=NAME)
def resume(name: str) -> None:
    """Resume rule NAME from its next slot."""
    click.echo(f"Alert rule {_set_paused(name, False).name!r} is resumed.")


rules.add_command(list_command(RULES, "rule", store.list_rules, LIST_HELP, NONE_YET))
rules.add_command(
    show_command(store.find_rule, _fields, SHOW_HELP, then=_print_annotations, name_type=NAME)
)
rules.add_command(
    remove_command("Alert rule", store.find_rule, store.delete_rule, REMOVE_HELP, name_type=NAME)
)


@alerts.command(name="list")
@click.option("--state", type=click.Choice([s.value for s in AlertState]), help="Only these.")
@click.option("--rule", type=NAME, help="Only this rule's.")
@options.limit(100)
def list_alerts(state: str | None, rule: str | None, limit: int) -> None:
    """Alerts, newest first: rule, labels, state, since, last value, last error."""
    rule_id = store.find_rule(rule).id if rule is not None else None
    ALERTS.print(instances.list_instances(None, limit, state=state, rule_id=rule_id), "No alerts.")


def _alert_row(r: instances.InstanceRecord) -> tuple[str, ...]:
    return (r.rule, _shown_labels(r.labels), r.state, when(r.since),
            "-" if r.last_value is None else f"{r.last_value:g}",
            truncated(r.last_error, 40) if r.last_error else "-")  # fmt: skip


ALERTS = Rows(ALERT_COLUMNS, _alert_row)


@alerts.command()
@click.option("--rule", type=NAME, help="Only this rule's.")
@options.limit(50)
def history(rule: str | None, limit: int) -> None:
    """Transitions, newest first, with the notice each sent."""
    rule_id = store.find_rule(rule).id if rule is not None else None
    events = instances.history(None, limit, rule_id=rule_id)
    if not events:
        note("No alert history.")
        return
    shown = instances.by_id({event.instance_id for event in events})
    rows = []
    for event in events:
        instance = shown.get(event.instance_id)
        rows.append((when(event.at), instance.rule if instance else "?",
                     _shown_labels(instance.labels) if instance else "?", event.event,
                     event.source_state, event.target_state,
                     "-" if event.value is None else f"{event.value:g}",
                     event.notice or "-"))  # fmt: skip
    console().print(table(None, HISTORY_COLUMNS, rows))


alerts.add_command(alert_routing.routes)
alerts.add_command(alert_routing.inhibit_rules)
