"""API schema conventions: camelCase JSON over snake_case Python."""

from typing import Annotated, Any

from ninja import Path, Router, Schema
from pydantic import ConfigDict, WithJsonSchema
from pydantic.alias_generators import to_camel

from rocketdbaas.dbms import DbmsType


class CamelSchema(Schema):
    """Fields are snake_case in Python and camelCase in JSON (both accepted on input)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)


# The `{dbmsType}` of a path, documented as an enum; matched case-insensitively by
# dbms.resolve_dbms_type, which answers an unknown one with a 404 naming the valid ones.
DbmsTypePath = Annotated[
    str,
    WithJsonSchema({"type": "string", "enum": [t.value for t in DbmsType]}),
    Path(description="The DBMS type, in any case"),
]


class ApiRouter(Router):
    """A router whose responses use the schemas' camelCase aliases unless told otherwise."""

    def add_api_operation(self, *args, by_alias=None, **kwargs):
        return super().add_api_operation(*args, by_alias=True if by_alias is None else by_alias, **kwargs)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every error answers."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict] | None = None


# The error answers every operation documents (each one a problem detail).
PROBLEMS: dict[int, Any] = {status: ProblemSchema for status in (400, 401, 403, 404, 409, 413, 422)}
