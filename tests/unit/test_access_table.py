"""The table of endpoints and scopes in docs/security.md is the one the routes declare."""

from __future__ import annotations

from api.access import DOC, NONE, documented_table, scope_table
from api.app import create_app


def test_the_security_page_lists_every_endpoint_with_the_scope_its_route_declares() -> None:
    # Given the app's routes, when their table is rendered, then the page holds it as is
    assert documented_table(DOC.read_text()) == scope_table(create_app()), (
        "docs/security.md is stale: run `python -m api.access --write`"
    )


def test_every_v1_endpoint_needs_a_key_and_documents_429() -> None:
    app = create_app()
    table = scope_table(app)
    assert not [line for line in table.splitlines() if " /v1/" in line and NONE in line]
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/v1/"):
                assert "429" in operation["responses"], (method, path)
