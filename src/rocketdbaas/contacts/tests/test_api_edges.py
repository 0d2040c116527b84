"""Inputs a fuzzer sends: out-of-range ids, NUL characters, huge offsets. Always 4xx, never 5xx."""

import pytest

from rocketdbaas.contacts.models import Contact
from rocketdbaas.contacts.tests.conftest import link, make_contact
from rocketdbaas.contacts.tests.test_contacts_api import assert_problem

pytestmark = pytest.mark.django_db

HUGE = 2**70


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/contacts/{HUGE}", None),
        ("patch", f"/api/contacts/{HUGE}", {"name": "x"}),
        ("post", f"/api/contacts/{HUGE}/expire", {}),
        ("post", f"/api/contacts/{HUGE}/reactivate", None),
        ("post", "/api/applications/shop/contacts", {"contactId": HUGE}),
        ("patch", f"/api/applications/shop/contacts/{HUGE}", {"role": "owner"}),
        ("delete", f"/api/applications/shop/contacts/{HUGE}", None),
        ("get", f"/api/notifications/{HUGE}", None),
        ("get", "/api/contacts/0", None),
        ("get", "/api/contacts/-1", None),
    ],
)
def test_ids_out_of_range_are_4xx(dba_api, fleet, method, path, body):
    response = getattr(dba_api, method)(path, json=body)
    assert 400 <= response.status_code < 500, response.content


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "A\x00B", "email": "a@example.com"},
        {"name": "A", "email": "a\x00@example.com"},
        {"name": "A", "email": "a@example.com", "notes": "x\x00y"},
        {"name": "A", "email": "a@example.com", "team": "\x00"},
    ],
)
def test_nul_characters_are_refused(dba_api, payload):
    assert_problem(dba_api.post("/api/contacts", json=payload), 422)
    assert not Contact.objects.exists()


@pytest.mark.parametrize("params", [{"name": "a\x00"}, {"email": "\x00"}, {"application": "sh\x00op"}])
def test_nul_characters_in_filters_are_refused(viewer_api, fleet, params):
    assert_problem(viewer_api.get("/api/contacts", **params), 422)


def test_nul_in_an_application_name_is_not_found(dba_api, fleet):
    assert dba_api.get("/api/applications/sh%00op/contacts").status_code in (404, 422)
    assert dba_api.get("/api/notifications", application="sh\x00op").status_code == 422


@pytest.mark.parametrize("path", ["/api/contacts", "/api/applications/shop/contacts", "/api/notifications"])
def test_paging_is_bounded(viewer_api, fleet, path):
    link(fleet["shop"], make_contact("ana@example.com"))
    assert viewer_api.get(path, offset=10**9, limit=1000).json()["items"] == []
    assert_problem(viewer_api.get(path, limit=2**70), 422)
    assert_problem(viewer_api.get(path, limit=1001), 422)
    assert_problem(viewer_api.get(path, offset=2**63), 422)
    assert_problem(viewer_api.get(path, limit=0), 422)
