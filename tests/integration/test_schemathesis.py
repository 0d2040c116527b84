"""schemathesis against /api/openapi.json, through the WSGI app, as a dba with a write token:
no 5xx and no response that violates the documented schema, on every operation of every app."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from rocketdbaas.accounts.models import ApiToken
from rocketdbaas.wsgi import application

# The coverage phase enumerates every boundary of every parameter: thorough, but minutes per run.
# Examples and fuzzing (positive and negative data) stay on, bounded by max_examples below.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=CONFIG)


@pytest.fixture
def dba_token(dba_user):
    # As Django's test client does: a WSGI request must not close the test's connection
    # (and with it the transaction the test runs in).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield ApiToken.issue(dba_user, write=True, name="schemathesis")[1]
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # the same examples every run, so a failure reproduces
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, dba_token):
    response = case.call(headers={"Authorization": f"Bearer {dba_token}"})
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
