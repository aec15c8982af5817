"""schemathesis against the OpenAPI schema of a live server, with valid credentials.

Every operation gets a bounded number of generated requests (valid and invalid bodies and
parameters); each answer must be no 5xx, a documented status and content type, and a body that
conforms to the documented schema of that status.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.security.live import Served

#: Generated requests per operation (and generation mode): enough to find the classic crashes
#: (types, bounds, unicode, huge numbers) while the whole run stays within minutes on 2 cores.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(served: Served) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": served.url,
            "headers": served.headers("root"),
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_url(f"{served.url}/openapi.json", config=config, timeout=30)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.mark.slow
@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
def test_api_conforms_to_its_schema(case: schemathesis.Case, served: Served) -> None:
    if "login" in case.path_parameters and "token" in (case.path_parameters or {}):
        # The seed's URL-credential routes: make the credentials valid, so the body is exercised.
        case.path_parameters["login"] = "root"
        case.path_parameters["token"] = served.catalog.tokens["root"]
    case.call_and_validate(headers=served.headers("root"), checks=CHECKS, timeout=60)
