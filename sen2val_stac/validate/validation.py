"""Validate a static STAC catalogue against the JSON schemas of the core and of each declared extension.

Every catalog, collection and item reached from the root ``catalog.json`` through ``child`` and
``item`` links (walked by :func:`sen2val_stac.catalog.read.walk`, the catalogue reader every command
uses) is checked against the core schema of its type and STAC version
(``https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json``) and against the
schema of each URL in its ``stac_extensions``; files that are missing or not parsable JSON are
reported too. Schemas come from an offline mirror or a download cache
(:class:`~sen2val_stac.validate.schemas.SchemaStore`).

Each document is first run through the compiled screen of each schema (``fastjsonschema``); where the
screen rejects it, or none could be compiled, ``jsonschema`` reports every error of that schema with its
location. Valid documents, the vast majority, never reach ``jsonschema``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from sen2val_stac.catalog.read import CatalogUnreadable, absolute, open_root, walk
from sen2val_stac.validate.schemas import (
    SchemaStore,
    SchemaUnavailable,
    bundled_schemas,
    default_cache_dir,
    download,
    fetch_via,
    url_to_path,
)

CORE_SCHEMA = "https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json"
KINDS = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}
NO_SCHEMA = "-"
"""``SchemaViolation.schema`` of problems found before any schema applies (unreadable file, not STAC)."""


@dataclass(frozen=True)
class SchemaViolation:
    """One problem in one file: the file, the schema URL, the JSON path in the document, the message."""

    path: str
    schema: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location not in ("", "$") else ""
        source = f" ({self.schema})" if self.schema != NO_SCHEMA else ""
        return f"{self.path}{where}: {self.message}{source}"


@dataclass
class ValidationResult:
    """Files checked (in the order reached), problems found, and remote link hrefs not followed."""

    files: list[str] = field(default_factory=list)
    errors: list[SchemaViolation] = field(default_factory=list)
    skipped_links: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file is valid."""
        return not self.errors

    @property
    def invalid_files(self) -> list[str]:
        """The files with at least one problem, in the order they were checked."""
        return list(dict.fromkeys(e.path for e in self.errors))

    def errors_for(self, path: str | os.PathLike[str]) -> list[SchemaViolation]:
        """The problems of one file."""
        wanted = str(absolute(path))
        return [e for e in self.errors if e.path == wanted]

    def summary(self) -> str:
        """``3 of 4 files valid, 1 invalid (2 problems); 1 remote links not followed``."""
        bad = len(self.invalid_files)
        text = f"{len(self.files) - bad} of {len(self.files)} files valid"
        if bad:
            text += f", {bad} invalid ({len(self.errors)} problems)"
        if self.skipped_links:
            text += f"; {len(self.skipped_links)} remote links not followed"
        return text

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-ready data: counts, then every file in the order checked with its problems."""
        by_file: dict[str, list[dict[str, str]]] = {path: [] for path in self.files}
        for e in self.errors:
            by_file.setdefault(e.path, []).append({"schema": e.schema, "location": e.location, "message": e.message})
        return {
            "ok": self.ok,
            "files_checked": len(self.files),
            "files_invalid": len(self.invalid_files),
            "problems": len(self.errors),
            "skipped_links": list(self.skipped_links),
            "files": [{"path": path, "valid": not problems, "errors": problems} for path, problems in by_file.items()],
        }


def schema_urls(doc: Mapping[str, Any]) -> list[str]:
    """Core schema URL of the document's type and ``stac_version``, then its extension schema URLs.

    Raises :class:`ValueError` when ``doc`` is not a STAC catalog, collection or item.
    """
    kind = KINDS.get(doc.get("type")) if isinstance(doc.get("type"), str) else None  # type: ignore[arg-type]
    if kind is None:
        raise ValueError(f"not a STAC catalog, collection or item: type is {doc.get('type')!r}")
    version = doc.get("stac_version")
    if not isinstance(version, str) or not version:
        raise ValueError(f"stac_version is missing or not a string: {version!r}")
    extensions = doc.get("stac_extensions", [])
    if not isinstance(extensions, list) or not all(isinstance(u, str) for u in extensions):
        raise ValueError(f"stac_extensions must be a list of schema URLs: {extensions!r}")
    return [CORE_SCHEMA.format(version=version.removeprefix("v"), kind=kind), *dict.fromkeys(extensions)]


def validate_document(doc: Any, path: str, store: SchemaStore) -> list[SchemaViolation]:
    """Problems of one STAC document against its core and extension schemas (empty when valid)."""
    if not isinstance(doc, dict):
        return [SchemaViolation(path, NO_SCHEMA, "$", f"not a JSON object but a {type(doc).__name__}")]
    try:
        urls = schema_urls(doc)
    except ValueError as exc:
        return [SchemaViolation(path, NO_SCHEMA, "$", str(exc))]
    problems: list[SchemaViolation] = []
    for url in urls:
        if _passes_screen(doc, url, store):
            continue
        try:
            found = list(store.validator(url).iter_errors(doc))
        except (SchemaUnavailable, Unresolvable) as exc:
            problems.append(SchemaViolation(path, url, "$", f"schema unavailable: {_reason(exc)}"))
            continue
        except Exception as exc:
            problems.append(SchemaViolation(path, url, "$", f"schema unusable: {_reason(exc)}"))
            continue
        for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
            specific = _most_specific(error)
            problems.append(SchemaViolation(path, url, specific.json_path, _describe(specific)))
    return problems


def _passes_screen(doc: dict[str, Any], url: str, store: SchemaStore) -> bool:
    """True when the compiled screen of ``url`` accepts ``doc``; False when it rejects it or there is none."""
    screen = store.screen(url)
    if screen is None:
        return False
    try:
        screen(doc)
    except Exception:
        return False
    return True


def _most_specific(error: ValidationError) -> ValidationError:
    """For a failed ``oneOf``/``anyOf``, the error of the alternative that was meant, when it can be told.

    Alternatives rejected because of the document's ``type`` (``'Collection' was expected``, a GeoJSON
    geometry type) were not meant; if what remains is one error, or one error deeper into the document
    than all others, it explains the failure (e.g. ``'big' is not of type 'integer'`` at
    ``$.assets.index.file:size``). Otherwise the error itself is kept, its alternatives listed by
    :func:`_describe`.
    """
    while error.context:
        branches: dict[Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0] if sub.relative_schema_path else None, []).append(sub)
        meant = [subs for subs in branches.values() if not any(_wrong_kind(error, sub) for sub in subs)]
        candidates = list({(tuple(sub.absolute_path), sub.message): sub for subs in meant for sub in subs}.values())
        if not candidates:
            break
        depth = max(len(sub.absolute_path) for sub in candidates)
        deepest = [sub for sub in candidates if len(sub.absolute_path) == depth]
        if len(candidates) == 1 or (len(deepest) == 1 and depth > len(error.absolute_path)):
            error = deepest[0]
        else:
            break
    return error


def _wrong_kind(parent: ValidationError, sub: ValidationError) -> bool:
    """True when ``sub`` rejects the ``type`` member of the object ``parent`` is about (a discriminator)."""
    return sub.validator in ("const", "enum") and list(sub.absolute_path) == [*parent.absolute_path, "type"]


def _reason(exc: BaseException) -> str:
    """The most useful message of an exception chain: the :class:`SchemaUnavailable` one when present."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SchemaUnavailable):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _describe(error: ValidationError) -> str:
    """The error message without a dump of a large instance, plus the reasons of the alternatives tried."""
    message: str = error.message
    if error.validator == "additionalProperties" and error.validator_value is False and "regexes" in message:
        message = f"property not allowed here: {message}"
    instance = repr(error.instance)
    if len(instance) > 60 and message.startswith(instance):
        message = "value" + message[len(instance):]
    reasons = sorted({c.message for c in error.context if len(c.message) < 120})
    if reasons:
        message += " (" + "; ".join(reasons[:4]) + ")"
    return message if len(message) <= 300 else message[:300] + "..."


def root_catalog_file(catalog: str | os.PathLike[str]) -> Path:
    """``catalog.json`` in a catalogue folder, or the given file; :class:`CatalogUnreadable` if unusable."""
    return open_root(catalog).file


def validate_catalog(catalog: str | os.PathLike[str], store: SchemaStore | None = None) -> ValidationResult:
    """Validate the catalogue at ``catalog`` (a folder holding catalog.json, or the root JSON file).

    ``store`` defaults to a download-cache :class:`SchemaStore`. Raises :class:`CatalogUnreadable` when the
    root file is missing or not a JSON object; every other problem is in the result, in the order the
    files were reached.
    """
    store = store if store is not None else SchemaStore()
    result = ValidationResult()
    for reached in walk(open_root(catalog), skipped=result.skipped_links):
        path = str(reached.path)
        result.files.append(path)
        if reached.error:
            result.errors.append(SchemaViolation(path, NO_SCHEMA, "$", reached.error))
        else:
            result.errors.extend(validate_document(reached.document, path, store))
    return result


__all__ = [
    "CORE_SCHEMA",
    "NO_SCHEMA",
    "CatalogUnreadable",
    "SchemaStore",
    "SchemaUnavailable",
    "SchemaViolation",
    "ValidationResult",
    "bundled_schemas",
    "default_cache_dir",
    "download",
    "fetch_via",
    "root_catalog_file",
    "schema_urls",
    "url_to_path",
    "validate_catalog",
    "validate_document",
]
