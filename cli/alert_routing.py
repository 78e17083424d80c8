"""``taskyard alerts routes add|list|show|remove`` and ``taskyard alerts inhibit-rules
add|list|remove``: where alert notices go and what mutes them."""

from __future__ import annotations

import click

from cli.output import Rows, note
from cli.resources import list_command, remove_command, show_command
from cli.silences import shown_matchers
from cli.text import NAME
from tasks.alerts import route_store as store
from tasks.alerts.route_store import InhibitSpec, RouteSpec
from workers.store.models import AlertRoute, InhibitRule

ROUTE_COLUMNS = ("name", "parent", "position", "matchers", "channels", "group by", "wait",
                 "interval", "repeat", "resolved", "continue")  # fmt: skip


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _route_row(r: AlertRoute) -> tuple[str, ...]:
    return (r.name, store.parent_name(r) or "-", str(r.position), shown_matchers(r.matchers),
            ", ".join(r.channels) or "-", ", ".join(r.group_by), f"{r.group_wait_s} s",
            f"{r.group_interval_s} s", f"{r.repeat_interval_s} s", _yes(r.send_resolved),
            _yes(r.continues))  # fmt: skip


def _inhibit_row(r: InhibitRule) -> tuple[str, ...]:
    return (r.name, shown_matchers(r.source_matchers), shown_matchers(r.target_matchers),
            ", ".join(r.equal) or "-")  # fmt: skip


ROUTES = Rows(ROUTE_COLUMNS, _route_row)
INHIBIT_RULES = Rows(("name", "source", "target", "equal"), _inhibit_row)


@click.group()
def routes() -> None:
    """Alert routes: matchers to channels, with grouping and pacing."""


@routes.command()
@click.argument("name")
@click.option("--match", "matchers", multiple=True, metavar="MATCHER", help='team=db, x=~"a|b"')
@click.option("--channel", "channels", multiple=True, metavar="NAME", help="A channel.")
@click.option("--parent", type=NAME, help="The parent route (default: the top).")
@click.option("--position", type=int, default=0, show_default=True)
@click.option("--group-by", "group_by", multiple=True, metavar="LABEL", help="'...': all.")
@click.option("--group-wait", type=int, default=30, show_default=True, metavar="SECONDS")
@click.option("--group-interval", type=int, default=300, show_default=True, metavar="SECONDS")
@click.option("--repeat-interval", type=int, default=14_400, show_default=True, metavar="SECONDS")
@click.option("--no-resolved", is_flag=True, help="Do not send RESOLVED notices.")
@click.option("--continue", "continues", is_flag=True, help="Try next siblings too.")  # fmt: skip
def add(name: str, matchers: tuple[str, ...], channels: tuple[str, ...], parent: str | None,
        position: int, group_by: tuple[str, ...], group_wait: int, group_interval: int,
        repeat_interval: int, no_resolved: bool, continues: bool) -> None:  # fmt: skip
    """Add route NAME; prints its id last."""
    row = store.create_route(
        RouteSpec(
            name=name, matchers=list(matchers), channels=list(channels), parent=parent,
            position=position, group_by=list(group_by or ("alertname",)),
            group_wait_s=group_wait, group_interval_s=group_interval,
            repeat_interval_s=repeat_interval, send_resolved=not no_resolved,
            continues=continues,
        )
    )  # fmt: skip
    note(f"Added alert route {row.name!r} to {', '.join(row.channels) or 'no channel'}.")
    click.echo(str(row.id))


routes.add_command(
    list_command(
        ROUTES,
        "route",
        store.list_routes,
        "Routes, newest first (parent and position give the tree).",
        "No routes: notices go to each rule's own channels. Add one "
        "with `taskyard alerts routes add NAME --match team=db --channel ops`.",
    )
)
routes.add_command(
    show_command(
        store.find_route,
        lambda r: zip(ROUTE_COLUMNS, _route_row(r), strict=True),
        "Route NAME.",
        name_type=NAME,
    )
)
routes.add_command(
    remove_command(
        "Alert route",
        store.find_route,
        store.delete_route,
        "Remove route NAME with the routes below it.",
        name_type=NAME,
    )
)


@click.group(name="inhibit-rules")
def inhibit_rules() -> None:
    """Inhibit rules: firing alerts that mute others."""


@inhibit_rules.command(name="add")
@click.argument("name")
@click.option("--source", "source", multiple=True, required=True, metavar="MATCHER")
@click.option("--target", "target", multiple=True, required=True, metavar="MATCHER")
@click.option("--equal", multiple=True, metavar="LABEL", help="Labels both must share.")
def add_inhibit(
    name: str, source: tuple[str, ...], target: tuple[str, ...], equal: tuple[str, ...]
) -> None:
    """Add inhibit rule NAME; prints its id last."""
    row = store.create_inhibit_rule(InhibitSpec(name, list(source), list(target), list(equal)))
    note(f"Added inhibit rule {row.name!r}.")
    click.echo(str(row.id))


inhibit_rules.add_command(
    list_command(
        INHIBIT_RULES,
        "inhibit rule",
        store.list_inhibit_rules,
        "Inhibit rules, newest first.",
        "No inhibit rules.",
    )
)
inhibit_rules.add_command(
    remove_command(
        "Inhibit rule",
        store.find_inhibit_rule,
        store.delete_inhibit_rule,
        "Remove inhibit rule NAME.",
        name_type=NAME,
    )
)
