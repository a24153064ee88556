"""A property-based run of schemathesis against the OpenAPI document: no 5xx, and every response
conforms to the documented status codes, content types and schemas. Bounded for ``make test``.

Each operation gets positive (valid by the schema) and negative (invalid) cases, driven by
Hypothesis directly (schemathesis' pytest plugin needs private pytest attributes).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


class IdleRunner:
    """Accepts jobs without running them: the property run checks the HTTP layer only."""

    def submit(self, job_id: str) -> None:
        pass

    def cancel(self, job_id: str) -> None:
        pass

    def shutdown(self) -> None:
        pass


def _has_inputs(operation) -> bool:
    return any(
        len(getattr(operation, part)) for part in ("path_parameters", "query", "headers", "body")
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_openapi_contract(app, headers, mode):
    app.state.api.runner = IdleRunner()
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 20
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to make invalid (e.g. /healthz)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
