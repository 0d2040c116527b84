import pytest
from django.test import Client
from django.urls import NoReverseMatch, resolve

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


@pytest.mark.parametrize("pages", ["FLEET_PAGES", "GENERAL_PAGES"])
def test_a_menu_entry_naming_no_page_is_an_error_not_a_missing_link(monkeypatch, pages):
    monkeypatch.setattr(context_processors, pages, [("nowhere:list", "Nowhere")])
    with pytest.raises(NoReverseMatch):
        build_navigation("/")


def test_the_menu_is_only_for_logged_in_users(viewer_user):
    assert "Database requests" not in Client().get("/accounts/login/").content.decode()
    client = Client()
    client.force_login(viewer_user)
    page = client.get("/").content.decode()
    assert 'href="/clusters/postgresql/"' in page and 'href="/requests/"' in page
