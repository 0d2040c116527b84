"""Sections that other apps add to a cluster's page, without the page knowing them.

An app that has something to show about a cluster defines, in `<app>/panels.py`,
`def cluster_panels(request, cluster) -> list[Panel]`. The cluster page collects them.
"""

from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings


@dataclass
class Panel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


def cluster_panels(request, cluster) -> list[Panel]:
    panels: list[Panel] = []
    for app in settings.INSTALLED_APPS:
        # core.panels is this module: importing it as an app's panels would recurse.
        if not app.startswith("rocketdbaas.") or app == "rocketdbaas.core":
            continue
        try:
            module = import_module(f"{app}.panels")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.panels":
                raise
            continue
        panels.extend(module.cluster_panels(request, cluster))
    return sorted(panels, key=lambda p: p.order)
