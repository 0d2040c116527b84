"""Template context for every page: the navigation.

A fleet page takes a `dbms_type` URL argument and is listed under each type; a general page
reverses without arguments and is listed once. A name that reverses to nothing is an error.
"""

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

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


def _link(label: str, url: str, path: str) -> NavLink:
    return NavLink(label, url, active=path == url or (url != "/" and path.startswith(url)))


def build_navigation(path: str) -> list[NavSection]:
    sections = [
        NavSection(
            dbms_type.label,
            [
                _link(label, reverse(name, kwargs={"dbms_type": dbms_type.value}), path)
                for name, label in FLEET_PAGES
            ],
        )
        for dbms_type in DbmsType
    ]
    sections.append(
        NavSection("General", [_link(label, reverse(name), path) for name, label in GENERAL_PAGES])
    )
    return sections


def navigation(request):
    context: dict[str, Any] = {"dbms_types": DbmsType.choices}
    if getattr(request, "user", None) is not None and request.user.is_authenticated:
        context["nav_sections"] = build_navigation(request.path)
    return context
