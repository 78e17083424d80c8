"""Taskyard's kombu Redis transport: every Redis URL form uses it, and a channel's short
commands share one client until kombu replaces the channel's pool."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from kombu import Connection

from tests.support.speedups import needs_speedups
from workers.app import app
from workers.speedups.redis_transport import Channel, Transport

pytestmark = needs_speedups


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6399/3", "rediss://127.0.0.1:6399/3", "redis+socket:///tmp/r.sock"]
)
def test_every_redis_url_form_resolves_to_taskyards_transport(url: str) -> None:
    # Given a connection for any Redis URL form (nothing connects yet)
    connection = Connection(url)

    # Then it is served by Taskyard's transport
    assert connection.get_transport_cls() is Transport


def test_a_channel_keeps_one_client_across_publishes_and_a_pool_reset(
    runtime: dict[str, str],
) -> None:
    # Given the app's broker connection and a channel on it
    queue = f"transport-{uuid.uuid4().hex[:8]}"
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        assert isinstance(channel, Channel)
        with mock.patch.object(
            Channel, "_create_client", autospec=True, side_effect=Channel._create_client
        ) as built:
            # When twenty messages are published and counted
            with connection.Producer(channel) as producer:
                for n in range(20):
                    producer.publish({"n": n}, routing_key=queue, declare=[])
            assert channel._size(queue) == 20

            # Then one client served every command
            assert built.call_count == 1

            # And after kombu drops its pools (as on a connection error), a fresh client on
            # the new pool serves the next commands
            channel._disconnect_pools()
            assert channel._size(queue) == 20
            assert built.call_count == 2
        channel._purge(queue)
