"""API schema conventions: camelCase JSON over snake_case Python, and what any input must be."""

import types
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Annotated, Any, Union, get_args, get_origin

from ninja import NinjaAPI, Path, Router, Schema
from pydantic import ConfigDict, ValidationInfo, WithJsonSchema, field_validator
from pydantic.alias_generators import to_camel

from rocketdbaas.core.errors import PROBLEM_CONTENT_TYPE, Invalid
from rocketdbaas.dbms import DbmsType

# PostgreSQL stores no NUL in text or jsonb, and no encoding carries a lone UTF-16 surrogate
# (a JSON string may spell one as an escape).
REFUSED_CHARACTERS = frozenset({"\x00", *map(chr, range(0xD800, 0xE000))})


def refused_character(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if not REFUSED_CHARACTERS.isdisjoint(text):
        return "must not contain NUL characters or unpaired surrogates"
    return None


def as_utc(value: datetime) -> datetime:
    """An aware timestamp as UTC, the way it is stored; its offset must keep it within years 1-9999.

    Naive values pass as they are (Django reads them as UTC, the server's time zone)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


def _types_in(annotation: Any) -> set[Any]:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _types_in(get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_types_in(arg) for arg in get_args(annotation)))
    return {annotation}


# The database's integers are 64-bit signed: a larger value fails in the driver, not as bad input.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


def strict_number(value: Any, annotation: Any) -> Any:
    """JSON true/false is no number and 1.5 (or 1.0) no integer, whatever Python would coerce,
    and an integer must fit the database."""
    accepted = _types_in(annotation)
    if isinstance(value, bool):
        if bool not in accepted and accepted & {int, float}:
            raise ValueError("must be a number, not true or false")
    elif isinstance(value, float) and int in accepted and float not in accepted:
        raise ValueError("must be a whole number")
    elif isinstance(value, int) and int in accepted and not MIN_INT <= value <= MAX_INT:
        raise ValueError(f"must be between {MIN_INT} and {MAX_INT}")
    return value


def _is_request_input(info: ValidationInfo) -> bool:
    # ninja validates a request's parameters and body with the request in the context, and
    # responses with their status as well: these rules are for what clients send.
    context = info.context or {}
    return "request" in context and "response_status" not in context


class CamelSchema(Schema):
    """Fields are snake_case in Python and camelCase in JSON (both accepted on input)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, from_attributes=True)

    @field_validator("*", mode="before")
    @classmethod
    def _strict_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name is None or not _is_request_input(info):
            return value
        return strict_number(value, cls.model_fields[info.field_name].annotation)

    @field_validator("*", mode="after")
    @classmethod
    def _timestamps_in_utc(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, datetime) and _is_request_input(info):
            return as_utc(value)
        return value


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


def partial_update(payload: Schema, *, nullable: Collection[str] = ()) -> dict[str, Any]:
    """The fields a PATCH body names, and only those: the rest stay as they are. A null is a
    value only for the fields that can be cleared (`nullable`); elsewhere it is bad input."""
    changes = payload.model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None and name not in nullable]
    if nulls:
        raise Invalid(
            "The request is not valid.",
            errors=[{"field": to_camel(name), "message": "This field cannot be null."} for name in nulls],
        )
    return changes


class ProblemNinjaAPI(NinjaAPI):
    """Documents every error answer with the media type it is sent with."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        for item in schema["paths"].values():
            for operation in item.values():
                for status, response in operation.get("responses", {}).items():
                    content = response.get("content")
                    if int(status) >= 400 and content and list(content) == ["application/json"]:
                        response["content"] = {PROBLEM_CONTENT_TYPE: content["application/json"]}
        return schema
