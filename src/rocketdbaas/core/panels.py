"""Sections that other apps add to a cluster's page, without the page knowing them.

An app that has something to show about a cluster defines, in `<app>/panels.py`,
`def cluster_panels(request, cluster) -> list[Panel]`. The cluster page collects them.
"""

from dataclasses import dataclass, field
from typing import Any

from rocketdbaas.core.plugins import app_modules


@dataclass
class Panel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


def cluster_panels(request, cluster) -> list[Panel]:
    panels: list[Panel] = []
    # core.panels is this module: importing it as an app's panels would recurse.
    for _app, module in app_modules("panels", skip="rocketdbaas.core"):
        panels.extend(module.cluster_panels(request, cluster))
    return sorted(panels, key=lambda p: p.order)
