"""Template context for every page: the navigation.

Other apps' pages land at different times, so the menu lists only the URL names that
resolve. A page per DBMS type takes a `dbms_type` URL argument and is listed under each
type; a page that reverses without arguments is listed once, in the general section.
"""

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from rocketdbaas.dbms import DbmsType

FLEET_PAGES = [
    ("inventory:cluster-list", "Clusters"),
    ("inventory:server-list", "Servers"),
    ("inventory:pool", "Spare pool"),
    ("patching:run-list", "Patch runs"),
    ("backups:list", "Backups"),
    ("activities:list", "Activities"),
    ("reports:index", "Reports"),
]
GENERAL_PAGES = [
    ("intake:list", "Database requests"),
    ("contacts:application-list", "Applications"),
    ("reports:my-databases", "My databases"),
]


@dataclass(frozen=True)
class NavLink:
    label: str
    url: str
    active: bool


@dataclass(frozen=True)
class NavSection:
    title: str
    links: list[NavLink]


def _reverse(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:
        return None


def _link(label: str, url: str, path: str) -> NavLink:
    return NavLink(label, url, active=path == url or (url != "/" and path.startswith(url)))


def build_navigation(path: str) -> list[NavSection]:
    sections: list[NavSection] = []
    general: list[NavLink] = []
    per_type: dict[str, list[NavLink]] = {t.value: [] for t in DbmsType}
    for name, label in FLEET_PAGES:
        urls = {t.value: _reverse(name, dbms_type=t.value) for t in DbmsType}
        if all(urls.values()):
            for dbms_type, url in urls.items():
                per_type[dbms_type].append(_link(label, url or "", path))
        elif url := _reverse(name):
            general.append(_link(label, url, path))
    for dbms_type in DbmsType:
        if per_type[dbms_type.value]:
            sections.append(NavSection(dbms_type.label, per_type[dbms_type.value]))
    for name, label in GENERAL_PAGES:
        if url := _reverse(name):
            general.append(_link(label, url, path))
    if general:
        sections.append(NavSection("General", general))
    return sections


def navigation(request):
    context: dict[str, Any] = {"dbms_types": DbmsType.choices}
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        context["nav_sections"] = build_navigation(request.path)
    return context
