"""Issue 7: property-based API testing against the OpenAPI schema (schemathesis): no input gives a 5xx."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app, load_index
from api.settings import Settings


@pytest.fixture(scope="module")
def api_schema(built_data_dir: Path):  # type: ignore[no-untyped-def]
    app_settings = Settings(data_dir=built_data_dir)
    app = create_app(app_settings)
    load_index(app, app_settings, None)  # what the lifespan does; the ASGI transport may not run it
    app.state.index_error = None
    # Write endpoints would ingest generated uploads for real; their auth is tested in test_hot_swap.py.
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="^/admin")


def test_no_server_errors(api_schema) -> None:  # type: ignore[no-untyped-def]
    # Driven through hypothesis directly: schemathesis' pytest plugin does not run under pytest 9.
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 5
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call()
            assert response.status_code < 500, f"{case.method} {case.formatted_path} {case.query} -> " \
                                               f"{response.status_code}"
            assert "Traceback" not in response.text

        check()
