import pytest

from rocketdbaas.inventory.models import Application


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["pay/ments", "bad\x01name", "tab\tname"])
def test_application_names_that_cannot_live_in_a_url_are_refused(dba_api, name):
    response = dba_api.post("/api/applications", json={"name": name})
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert not Application.objects.exists()


@pytest.mark.django_db
def test_application_names_with_spaces_and_punctuation_are_fine(dba_api):
    response = dba_api.post("/api/applications", json={"name": "HR & Payroll (EU)"})
    assert response.status_code == 201
    assert response.json()["name"] == "HR & Payroll (EU)"
    assert Application.objects.filter(name="HR & Payroll (EU)").exists()
