import pytest


@pytest.mark.django_db
def test_anonymous_api_call_is_401_problem(anon_api):
    response = anon_api.get("/api/postgresql/clustersServers")
    assert response.status_code in (401, 404)


@pytest.mark.django_db
def test_openapi_schema_is_public(anon_api):
    response = anon_api.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "RocketDBaaS API"


@pytest.mark.django_db
def test_request_id_is_echoed(anon_api):
    response = anon_api.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"
