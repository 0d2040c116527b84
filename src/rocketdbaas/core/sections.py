"""Sections that apps add to a cluster, shown on the cluster page and in the cluster detail API.

An app with something to show about a cluster defines, in `<app>/sections.py`, a module-level
`section = ClusterSection(...)`. Its provider reads the data once (model objects or dataclasses,
for a cluster the caller has already found and checked the user may see); the page renders the
section's template from that data and the API answers it through the section's schema, so the
two cannot disagree on which rows they show.
"""

from collections.abc import Callable
from copy import copy
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from ninja import Schema
from pydantic import BaseModel, create_model

from rocketdbaas.core.plugins import app_modules


@dataclass(frozen=True)
class ClusterSection:
    key: str  # names the section on the page (data-panel)
    title: str
    provider: Callable[[Any], Any]  # cluster -> the section's data
    template: str  # renders `data` (the provider's answer) and `cluster` on the cluster page
    schema: type[Schema]  # validates `data`; its fields become fields of the cluster detail API
    order: int = 100  # place on the page, lowest first


@dataclass(frozen=True)
class SectionData:
    section: ClusterSection
    data: Any


@lru_cache(maxsize=1)
def cluster_sections() -> tuple[ClusterSection, ...]:
    # core.sections is this module: importing it as an app's sections would recurse.
    found = [module.section for _app, module in app_modules("sections", skip="rocketdbaas.core")]
    keys = [s.key for s in found]
    if len(set(keys)) != len(keys):
        raise ImproperlyConfigured(f"Two cluster sections share a key: {sorted(keys)}")
    return tuple(sorted(found, key=lambda s: s.order))


def section_data(cluster) -> list[SectionData]:
    """Every section's data for one cluster, in page order."""
    return [SectionData(s, s.provider(cluster)) for s in cluster_sections()]


def section_fields(cluster) -> dict[str, Any]:
    """Every section's API fields for one cluster, each validated through its section's schema."""
    fields: dict[str, Any] = {}
    for item in section_data(cluster):
        fields.update(item.section.schema.model_validate(item.data))
    return fields


def with_sections(base: type[BaseModel], name: str) -> type[BaseModel]:
    """The fields of `base` and of every section, typed, so the API schema documents them all.

    Only the shape is shared: values come from `base` and the sections' schemas (and their
    resolvers), so the result is validated from a dict of already-built fields.
    """
    fields: dict[str, Any] = {
        field: (info.annotation, copy(info)) for field, info in base.model_fields.items()
    }
    for section in cluster_sections():
        for field, info in section.schema.model_fields.items():
            if field in fields:
                raise ImproperlyConfigured(f"The {section.key} section redefines {field!r}")
            fields[field] = (info.annotation, copy(info))
    return create_model(
        name, __config__=base.model_config, __doc__=base.__doc__, __module__=base.__module__, **fields
    )
