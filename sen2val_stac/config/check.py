"""Defaults + user file -> validated :class:`~sen2val_stac.config.model.Settings`, or messages naming file and key.

Every message reads ``<file>: key 'netcdf.complevel' must be between 0 and 9 (got 12)`` or
``<file>: unknown key 'catalogue_dir' (did you mean 'catalog_dir'?)``; ``<file>`` is the user's file when
the value came from it, else the defaults file.
"""

from __future__ import annotations

import copy
import difflib
import re
import types
import typing
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from sen2val_stac.config.model import Settings

# Reasons for pydantic's own error types (the rules in fields.py carry their own).
REASONS = {
    "int_type": "must be int", "int_parsing": "must be int", "int_from_float": "must be int",
    "float_type": "must be int or float", "bool_type": "must be bool (true or false)", "string_type": "must be str",
    "list_type": "must be list", "dict_type": "must be a mapping", "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}


def _args(annotation: Any) -> tuple[Any, ...]:
    """The type arguments of a ``list[X]``, ``X | None`` or ``Annotated[X, ...]`` annotation."""
    if typing.get_origin(annotation) is typing.Annotated:
        return (typing.get_args(annotation)[0],)
    if typing.get_origin(annotation) in (list, dict, typing.Union, types.UnionType):
        return typing.get_args(annotation)
    return ()


def _section(annotation: Any) -> type[BaseModel] | None:
    """The model of a section field (``X`` or ``X | None``); None for lists, mappings and plain values."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        found = [m for m in map(_section, _args(annotation)) if m is not None]
        return found[0] if found else None
    return None


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose fields hold the keys at ``loc`` (list indices step into the element model)."""
    model: type[BaseModel] | None = Settings
    annotation: Any = None
    for part in loc:
        if isinstance(part, int):
            annotation = next(iter(_args(annotation)), None)
            model = _section(annotation)
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        annotation, model = field.annotation, _section(field.annotation)
    return model


def free_mappings() -> set[str]:
    """Dotted keys whose values are mappings of user-chosen keys (``doi``): replaced whole, not merged."""
    out = set()
    for model, prefix in _sections():
        for name, field in model.model_fields.items():
            if typing.get_origin(field.annotation) is dict:
                out.add(prefix + name)
    return out


def _sections(model: type[BaseModel] = Settings, prefix: str = "") -> Iterator[tuple[type[BaseModel], str]]:
    yield model, prefix
    for name, field in model.model_fields.items():
        sub = _section(field.annotation)
        if sub is not None:
            yield from _sections(sub, f"{prefix}{name}.")


def unmodelled(data: dict[str, Any], model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Dotted keys of ``data`` (the defaults) that have no field in the models."""
    out = []
    for key, value in data.items():
        field = model.model_fields.get(key)
        sub = _section(field.annotation) if field else None
        if field is None:
            out.append(prefix + key)
        elif sub is not None and isinstance(value, dict):
            out += unmodelled(value, sub, f"{prefix}{key}.")
    return out


def merge(base: dict[str, Any], user: dict[str, Any], free: set[str], prefix: str = "") -> dict[str, Any]:
    """``user`` overlaid on a copy of ``base``: sections merged key by key; lists and free mappings replaced."""
    out = copy.deepcopy(base)
    for key, value in user.items():
        dotted = prefix + key
        if isinstance(value, dict) and isinstance(out.get(key), dict) and dotted not in free:
            out[key] = merge(out[key], value, free, dotted + ".")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _pop(data: dict[str, Any], dotted: str) -> Any:
    *parents, key = dotted.split(".")
    for part in parents:
        data = data[part]
    return data.pop(key)


def _put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, key = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[key] = value


def dotted(loc: tuple[int | str, ...]) -> str:
    """``('contacts', 0, 'email')`` -> ``contacts[0].email``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f"{'.' if out else ''}{part}"
    return out


def _from_user(user: dict[str, Any], loc: tuple[int | str, ...]) -> bool:
    """True when the value at ``loc`` was written in the user's file (a user list is the user's whole)."""
    node: Any = user
    for part in loc:
        if not isinstance(node, dict):  # a value (or a list) the user wrote where the error lies
            return True
        if part not in node:
            return False
        node = node[part]
    return True


SECRET = re.compile(r"dsn|password|token|secret", re.I)


def _shown(value: Any, loc: tuple[int | str, ...] = ()) -> str:
    if any(isinstance(part, str) and SECRET.search(part) for part in loc):
        return "a value not shown"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _did_you_mean(loc: tuple[int | str, ...]) -> str:
    """`` (did you mean 'x'?)``: a close sibling key, else the same key in another section, else ''."""
    model = _model_at(loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields) if model else [], n=1)
    if close:
        return f" (did you mean '{dotted((*loc[:-1], close[0]))}'?)"
    elsewhere = [prefix + str(loc[-1]) for section, prefix in _sections() if loc[-1] in section.model_fields]
    return f" (did you mean '{elsewhere[0]}'?)" if len(elsewhere) == 1 else ""


def describe(error: ErrorDetails, in_defaults: bool) -> str:
    """One error as ``key 'a.b' <reason> (got <value>)`` or ``unknown key 'a.b' (did you mean 'a.c'?)``."""
    loc, kind = tuple(error["loc"]), error["type"]
    key = dotted(loc)
    if kind == "extra_forbidden":
        hint = _did_you_mean(loc)
        if in_defaults:
            return f"key '{key}' has no field in sen2val_stac/config/model.py{hint}"
        return f"unknown key '{key}'{hint}"
    if kind == "missing":
        return f"key '{key}' has no default here" if in_defaults else f"key '{key}' is required"
    if kind == "literal_error":
        reason = f"must be {error.get('ctx', {}).get('expected')}"
    elif kind == "too_short":
        reason = "must not be empty"
    else:
        reason = REASONS.get(kind) or error["msg"][:1].lower() + error["msg"][1:]
    if loc and isinstance(loc[-1], int):  # an item of a list of values: name the list, show the item
        return f"key '{dotted(loc[:-1])}': item {_shown(error['input'])} {reason}"
    return f"key '{key}' {reason} (got {_shown(error['input'], loc)})"


def validate(user: dict[str, Any], defaults: dict[str, Any], user_file: str, defaults_file: str,
             base: Path | None) -> tuple[Settings, dict[str, Any]]:
    """The settings from ``defaults`` overlaid with ``user``, and the defaults' keys that have no field yet.

    Raises ``ValueError`` with one line per wrong value, each naming its file and dotted key. ``base``: the
    folder that relative folders are relative to (None: left as written).
    """
    data = merge(defaults, user, free_mappings())
    loose = {key: _pop(data, key) for key in unmodelled(defaults)}
    if loose:
        warnings.warn(f"{defaults_file}: key(s) {', '.join(loose)} have no field in sen2val_stac/config/model.py: "
                      "not validated", stacklevel=3)
    try:
        settings = Settings.model_validate(data, context={"base": base})
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            mine = _from_user(user, tuple(error["loc"]))
            lines.append((not mine, f"{user_file if mine else defaults_file}: {describe(error, not mine)}"))
        raise ValueError("\n".join(line for _, line in sorted(lines, key=lambda x: x[0]))) from None
    return settings, loose


def as_dict(settings: Settings, loose: dict[str, Any]) -> dict[str, Any]:
    """The plain nested dict callers read (``config["netcdf"]["chunks"]``): the keys as written or defaulted."""
    out = settings.model_dump(exclude_unset=True)
    for key, value in loose.items():
        _put(out, key, value)
    return out
