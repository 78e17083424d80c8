"""``taskyard keys new-data-key`` and ``taskyard keys rotate-data``: the keys that seal data at
rest (``TASKYARD_SECRET_KEYS``: channel secrets and sensitive job payloads), not API keys."""

from __future__ import annotations

import click

from cli.output import CliError, plural
from cli.progress import progress_bar
from tasks.jobs.control import count_sensitive_jobs, reseal_payloads
from tasks.notifications import store as channel_store
from workers.sealing import KEYS_SETTING, keyring, new_key
from workers.store.resealing import ResealReport


def _told(report: ResealReport, noun: str) -> str:
    plain = f" ({report.were_plain} of them stored plain until now)" if report.were_plain else ""
    return f"{plural(report.resealed, noun)}{plain}"


@click.command(name="rotate-data")
def rotate_data() -> None:
    """Seal every channel's secrets and every sensitive job payload under the first key of
    TASKYARD_SECRET_KEYS, in batches (safe to run again). Rotate: put a new key first in every
    process, run this, then drop the old key (docs/operations.md)."""
    if keyring() is None:
        raise CliError(f"{KEYS_SETTING} is not set; make a key with `taskyard keys "
                       "new-data-key` and set it first")  # fmt: skip
    with progress_bar("Resealing channel secrets", channel_store.count_channels()) as advance:
        channels = channel_store.rekey(advance)
    with progress_bar("Resealing sensitive payloads", count_sensitive_jobs()) as advance:
        payloads = reseal_payloads(advance)
    click.echo(f"Resealed {_told(channels, 'channel')} and {_told(payloads, 'sensitive job')} "
               f"under the first key. Keys after the first may leave {KEYS_SETTING} once no "
               "message published before is still queued.")  # fmt: skip


@click.command(name="new-data-key")
def new_data_key() -> None:
    """Print a new key for TASKYARD_SECRET_KEYS (keep it as safe as the data it seals)."""
    click.echo(new_key())
