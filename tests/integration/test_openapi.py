"""The OpenAPI document names each schema once, and documents errors as the problem details they are."""

import json
from collections import defaultdict

import pytest
from ninja.openapi.schema import REF_TEMPLATE, NinjaGenerateJsonSchema

from rocketdbaas.api import api


def _definitions():
    """(mode, name, definition) for every schema any operation's input or output refers to.

    ninja merges these by name into one `components/schemas`, so two different models with one
    name would silently leave one operation documented with the other's schema."""
    for _prefix, router in api._routers:
        for view in router.path_operations.values():
            for op in view.operations:
                models = [(m, "validation") for m in op.models]
                models += [(m, "serialization") for m in op.response_models.values() if m is not None]
                for model, mode in models:
                    if not hasattr(model, "model_json_schema"):
                        continue
                    schema = model.model_json_schema(
                        ref_template=REF_TEMPLATE,
                        by_alias=True,
                        schema_generator=NinjaGenerateJsonSchema,
                        mode=mode,
                    )
                    for name, definition in schema.get("$defs", {}).items():
                        yield mode, name, json.dumps(definition, sort_keys=True)


def test_every_schema_name_is_unique():
    seen: dict[tuple[str, str], set[str]] = defaultdict(set)
    for mode, name, definition in _definitions():
        seen[mode, name].add(definition)
    clashes = sorted(name for (_mode, name), definitions in seen.items() if len(definitions) > 1)
    assert clashes == []
    assert len(seen) > 50  # the walk really reached the apps' schemas


@pytest.mark.django_db
def test_error_answers_are_documented_as_problem_details(anon_api):
    document = anon_api.get("/api/openapi.json").json()
    media_types = {
        (status, media_type)
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        for media_type in response.get("content", {})
    }
    assert {m for s, m in media_types if int(s) >= 400} == {"application/problem+json"}
    assert "application/json" in {m for s, m in media_types if int(s) < 300}
    downtime = document["paths"]["/api/{dbms_type}/activities/downtime"]["get"]
    ref = downtime["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    assert "clusters" in document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
