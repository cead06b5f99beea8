"""Value rules of the configuration: ``Annotated`` metadata with a short reason when a value is wrong.

``Annotated[int, between(0, 9)]`` checks after the (strict) type check and adds the same constraint to the
JSON Schema. The reasons are phrased to follow ``key 'dotted.key'`` in the message of
:class:`~sen2val_stac.config.ConfigError` (``must be between 0 and 9``).
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, PlainSerializer, ValidationInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema


def fail(reason: str) -> PydanticCustomError:
    """A validation error whose message is ``reason`` (``must be ...``)."""
    return PydanticCustomError("sen2val", reason)  # no context: the text is not formatted


class Rule:
    """Annotated metadata: ``check(value)`` after the type's own validation; ``schema``: JSON Schema keywords."""

    def __init__(self, check: Callable[[Any], Any], schema: Callable[[], dict[str, Any]] | dict[str, Any]) -> None:
        self.check, self.schema = check, schema

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        out = handler(schema)
        out.update(self.schema() if callable(self.schema) else self.schema)
        return out


def between(lo: float | None = None, hi: float | None = None) -> Rule:
    """A number within ``[lo, hi]`` (either bound may be None)."""
    if lo is not None and hi is not None:
        reason = f"must be between {lo:g} and {hi:g}"
    else:
        reason = f"must be at least {lo:g}" if lo is not None else f"must be at most {hi:g}"

    def check(value: Any) -> Any:
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise fail(reason)
        return value
    return Rule(check, {k: v for k, v in (("minimum", lo), ("maximum", hi)) if v is not None})


def one_of(choices: Collection[Any]) -> Rule:
    """A value among ``choices`` (read at each validation, so a tuple that grows is followed)."""
    def check(value: Any) -> Any:
        if value not in choices:
            raise fail(f"must be one of {', '.join(map(str, choices))}")
        return value
    return Rule(check, lambda: {"enum": list(choices)})


def matches(regex: str, reason: str) -> Rule:
    """A string in which ``regex`` matches; ``reason`` says what is expected."""
    compiled = re.compile(regex)

    def check(value: str) -> str:
        if not compiled.search(value):
            raise fail(reason)
        return value
    return Rule(check, {"pattern": regex})


def placeholders(*names: str) -> Rule:
    """A ``str.format`` template that uses only the placeholders ``names``."""
    allowed = ", ".join("{" + n + "}" for n in names)

    def check(value: str) -> str:
        try:
            value.format(**dict.fromkeys(names, ""))
        except (KeyError, IndexError, ValueError) as exc:
            raise fail(f"may use only the placeholders {allowed} (not {exc})") from None
        return value
    return Rule(check, {})


def _three_positive(value: list[Any]) -> list[Any]:
    if len(value) != 3 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
        raise fail("must be three positive integers [T, Y, X]")
    return value


THREE_POSITIVE = Rule(_three_positive, {"items": {"type": "integer", "minimum": 1}, "minItems": 3, "maxItems": 3})


def _non_empty(value: str) -> str:
    if not value:
        raise fail("must not be empty")
    return value


NON_EMPTY = Rule(_non_empty, {"minLength": 1})


class _Number:
    """Annotated metadata: an int or a float kept as written (``60`` stays an int; a bool is no number)."""

    @staticmethod
    def _check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("must be int or float")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "number"}


class _Scalar:
    """Annotated metadata: a string or an int kept as written (a postal code, a phone number)."""

    @staticmethod
    def _check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
            raise fail("must be a non-empty str or an int")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": ["string", "integer"], "minLength": 1}


class _Date:
    """Annotated metadata: a calendar date from YAML's date or an ISO string (``'2023-01-15'``).

    The model holds a :class:`datetime.date`; dumps (the plain dict of ``load_config``, whose JSON is part of the
    indexer's render signature) hold its ISO string, so they stay JSON-serialisable.
    """

    @staticmethod
    def _check(value: Any) -> datetime.date:
        if isinstance(value, str):
            try:
                value = datetime.date.fromisoformat(value)
            except ValueError:
                raise fail("must be a date YYYY-MM-DD") from None
        if isinstance(value, datetime.datetime) or not isinstance(value, datetime.date):
            raise fail("must be a date YYYY-MM-DD")
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(self._check)

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"type": "string", "format": "date"}


def _folder(value: str, info: ValidationInfo) -> str:
    """Resolve a relative folder against the configuration file's folder (``base`` in the context)."""
    base = (info.context or {}).get("base")
    if base is None or not value:
        return value
    return str((Path(base) / os.path.expanduser(value)).resolve())


class _Folder:
    """Annotated metadata: a folder, relative to the configuration file when written relative there."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.with_info_after_validator_function(_folder, handler(source))


Number = Annotated[float, _Number()]
"""An int or a float."""
Text = Annotated[str, NON_EMPTY]
"""A non-empty string."""
Url = Annotated[str, matches(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$", "must be an absolute URL (scheme://...)")]
Email = Annotated[str, matches(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "must be an e-mail address")]
Doi = Annotated[str, matches(r"^10\.\d{4,9}/\S+$", "must be a DOI such as 10.5281/zenodo.1234567 (no https://doi.org/)")]
Scalar = Annotated[str | int, _Scalar()]
"""A non-empty string or an int."""
Date = Annotated[datetime.date, _Date(), PlainSerializer(datetime.date.isoformat, return_type=str)]
"""A calendar date; dumped as ``YYYY-MM-DD``."""
Folder = Annotated[str, _Folder()]
"""A folder: relative to the configuration file's folder when written relative there."""
Chunks = Annotated[list[Any], THREE_POSITIVE]
"""Chunk sizes (time, y, x): three positive integers."""
