"""schemathesis against /api/openapi.json, through the WSGI app, as a dba with a write token.

Every operation is fuzzed for both DBMS types with positive and negative data, then the
operations are chained by their inferred links (create → read → update → delete). No answer may
be a 5xx, and every answer must match its documented status codes, content type and schema.
Runs on whichever database the suite runs on (SQLite, or PostgreSQL through DATABASE_URL).
"""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from rocketdbaas.accounts.models import ApiToken
from rocketdbaas.dbms import DbmsType
from rocketdbaas.wsgi import application

CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
# The coverage phase enumerates every boundary of every parameter: thorough, but minutes per run.
# Examples and fuzzing (positive and negative data) stay on, bounded by max_examples below.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application, config=CONFIG)

# Cases per operation (each also run for both DBMS types): 89 operations x 8 cases is ~1 minute.
MAX_EXAMPLES = 8
STATEFUL_SCENARIOS = 15
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples every run, so a failure reproduces
    suppress_health_check=list(HealthCheck),
    database=None,
)


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


def _for_each_dbms_type(case):
    """The case as it is, then once per DBMS type when its path names one (a random dbmsType
    is only ever a 404)."""
    yield case
    if "dbms_type" in (case.path_parameters or {}):
        for kind in DbmsType:
            case.path_parameters = {**case.path_parameters, "dbms_type": kind.value}
            yield case


@pytest.mark.django_db
@schema.parametrize()
@FUZZ_SETTINGS
def test_api_conforms_to_its_schema(case, dba_token):
    for each in _for_each_dbms_type(case):
        each.call_and_validate(headers={"Authorization": f"Bearer {dba_token}"}, checks=CHECKS)


@pytest.mark.django_db
def test_api_sequences_conform_to_its_schema(dba_token):
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        # Each scenario starts from the same empty database, so a replayed scenario sees
        # what it saw the first time (hypothesis requires it to shrink a failure).
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case):
            return {"headers": {"Authorization": f"Bearer {dba_token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            case.validate_response(response, checks=CHECKS)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
    )
