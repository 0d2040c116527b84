import pytest


@pytest.mark.django_db
def test_anonymous_api_call_is_401_problem(anon_api):
    response = anon_api.get("/api/postgresql/clustersServers")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.django_db
def test_openapi_schema_is_public(anon_api):
    response = anon_api.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "RocketDBaaS API"


def test_the_openapi_document_is_built_once_per_process():
    from rocketdbaas.api import api

    assert api.get_openapi_schema() is api.get_openapi_schema()


@pytest.mark.django_db
def test_request_id_is_echoed(anon_api):
    response = anon_api.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "abc-123"


@pytest.mark.django_db
def test_a_method_a_path_does_not_serve_is_a_405_problem(dba_api):
    response = dba_api.put("/api/postgresql/backups", json={})
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert "GET" in response["Allow"] and "PUT" not in response["Allow"]
    assert response.json()["status"] == 405
