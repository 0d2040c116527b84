"""The cluster section registry: one section per app, page and API from the same data."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ImproperlyConfigured

from rocketdbaas.core import plugins
from rocketdbaas.core.schemas import CamelSchema
from rocketdbaas.core.sections import cluster_sections, with_sections


def test_each_app_with_something_to_show_contributes_one_section():
    keys = [s.key for s in cluster_sections()]
    assert keys == ["databases", "activities", "patching", "contacts", "backups", "intake-requests"]


def test_a_section_may_not_redefine_another_field():
    class Base(CamelSchema):
        contacts: list[str]

    with pytest.raises(ImproperlyConfigured, match="contacts section redefines 'contacts'"):
        with_sections(Base, "Clash")


def test_apps_without_a_sections_module_add_none(monkeypatch):
    apps = [
        "django.contrib.admin",
        "rocketdbaas.inventory",
        "rocketdbaas.inventory.tests",
        "rocketdbaas.core",
    ]
    monkeypatch.setattr(plugins, "settings", SimpleNamespace(INSTALLED_APPS=apps))
    cluster_sections.cache_clear()
    try:
        assert cluster_sections() == ()
    finally:
        cluster_sections.cache_clear()


def test_openapi_declares_every_section_of_the_cluster_detail(anon_api):
    spec = anon_api.get("/api/openapi.json").json()
    detail = spec["components"]["schemas"]["ClusterDetail"]
    assert detail.get("additionalProperties") is not True
    for section in cluster_sections():
        for name, info in section.schema.model_fields.items():
            assert (info.alias or name) in detail["properties"], (section.key, name)
    assert {"recentActivities", "lastCollected", "intakeRequests"} <= set(detail["required"])
    operation = spec["paths"]["/api/{dbms_type}/Cluster/{cluster_name}"]["get"]
    (dbms_type,) = [p for p in operation["parameters"] if p["name"] == "dbms_type"]
    assert dbms_type["schema"]["enum"] == ["postgresql", "mongodb"]
