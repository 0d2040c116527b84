from django.test import Client
from django.urls import resolve

from rocketdbaas.core import context_processors
from rocketdbaas.core.context_processors import build_navigation


def test_every_menu_link_resolves_and_fleet_pages_are_per_dbms_type():
    sections = build_navigation("/clusters/mongodb/")
    titles = [s.title for s in sections]
    assert titles[:2] == ["PostgreSQL", "MongoDB"]
    links = [link for s in sections for link in s.links]
    for link in links:
        resolve(link.url)
    mongo = next(s for s in sections if s.title == "MongoDB")
    assert next((link.label, link.url, link.active) for link in mongo.links) == (
        "Clusters",
        "/clusters/mongodb/",
        True,
    )
    assert "Database requests" in [link.label for s in sections for link in s.links]


def test_pages_that_do_not_exist_yet_are_left_out(monkeypatch):
    monkeypatch.setattr(
        context_processors, "FLEET_PAGES", [("nowhere:list", "Nowhere"), *context_processors.FLEET_PAGES]
    )
    monkeypatch.setattr(context_processors, "GENERAL_PAGES", [("nowhere:other", "Other")])
    labels = [link.label for s in build_navigation("/") for link in s.links]
    assert "Nowhere" not in labels and "Other" not in labels and "Clusters" in labels


def test_the_menu_is_only_for_logged_in_users(viewer_user):
    assert "Database requests" not in Client().get("/accounts/login/").content.decode()
    client = Client()
    client.force_login(viewer_user)
    page = client.get("/").content.decode()
    assert 'href="/clusters/postgresql/"' in page and 'href="/requests/"' in page
