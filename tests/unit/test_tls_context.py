"""The TLS context of sends is made once per process and CA file, not once per send."""

from __future__ import annotations

import pytest

from tasks.notifications.message import tls_context
from tests.support.channels import channel_settings
from tests.support.sinks import make_certificate


def test_sends_share_one_context_until_the_ca_file_changes(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    certificate = make_certificate(tmp_path_factory.mktemp("ca"))
    with channel_settings(TASKYARD_NOTIFY_CA_FILE=None):
        plain = tls_context()
        assert tls_context() is plain
    with channel_settings(TASKYARD_NOTIFY_CA_FILE=str(certificate.cert)):
        extra = tls_context()
        assert extra is not plain
        assert tls_context() is extra
        assert extra.cert_store_stats()["x509_ca"] == plain.cert_store_stats()["x509_ca"] + 1
