"""OpenAPI is served and complete; migrations match the models."""


import httpx


def test_openapi_documents_every_route_with_its_errors(hub):
    spec = httpx.get(f"{hub.url}/schema/openapi.json").json()
    paths = spec["paths"]
    expected = {
        ("get", "/api/integrations"), ("get", "/api/integrations/providers"),
        ("get", "/api/integrations/{integration_id}"), ("post", "/api/integrations/google/connect"),
        ("post", "/api/integrations/google/callback"), ("put", "/api/integrations/{integration_id}/settings"),
        ("delete", "/api/integrations/{integration_id}"), ("post", "/api/integrations/{integration_id}/test"),
    }
    found = {(m, p) for p, ops in paths.items() for m in ops}
    assert expected <= found
    assert not any(p.startswith("/sandbox") for p in paths)
    schemas = spec["components"]["schemas"]
    assert "ErrorResponse" in schemas
    for method, path in expected:
        op = paths[path][method]
        assert "401" in op["responses"], (method, path)
        assert "200" in op["responses"], (method, path)
        error = op["responses"]["401"]["content"]["application/json"]["schema"]
        assert error["$ref"].endswith("/ErrorResponse")
    # Each installed provider has its own connect operation: its scopes, its settings.
    connect = paths["/api/integrations/google/connect"]["post"]
    body = connect["requestBody"]["content"]["application/json"]["schema"]["oneOf"][0]
    scopes, settings = body["properties"]["scopes"]["oneOf"][0], body["properties"]["settings"]["oneOf"][0]
    assert scopes["items"]["enum"] == ["calendar.read", "calendar.write", "events.manage"]
    assert settings["$ref"].endswith("/google.GoogleSettings")
    assert connect["requestBody"]["required"] is False  # an empty POST connects with the defaults
    assert "/api/integrations/webhooks/callback" not in paths  # connected at once, no OAuth
    assert "/api/integrations/{provider}/connect" not in paths
    assert "BearerToken" in spec["components"]["securitySchemes"]


def test_migrations_match_the_models(hub):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from axhub.db import Base

    async def diff():
        async with hub.services.db.engine.connect() as conn:
            return await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))

    assert hub.run(diff()) == []


def test_the_suite_runs_on_the_database_it_was_asked_for(hub, database_server_url):
    dialect = hub.services.db.engine.dialect.name
    assert dialect == ("postgresql" if database_server_url and database_server_url.startswith("postgresql") else "sqlite")


def test_the_schema_viewer_loads_nothing_from_outside_the_hub(hub):
    import re

    page = httpx.get(f"{hub.url}/schema")
    assert page.status_code == 200 and "SwaggerUIBundle" in page.text
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert assets and all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        response = httpx.get(f"{hub.url}{asset}")
        assert response.status_code == 200 and response.content, asset
    assert "javascript" in httpx.get(f"{hub.url}/schema-assets/swagger-ui-bundle.js").headers["content-type"]
