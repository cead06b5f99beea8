"""Validate a static STAC catalogue against the JSON schemas of the core and of each declared extension.

Schemas are resolved offline from a local mirror (``https://host/path`` -> ``MIRROR/host/path``)
when one is given; otherwise they are fetched once into a cache folder
(``$SEN2VAL_SCHEMA_CACHE`` or ``~/.cache/sen2val-stac/schemas``, same layout), atomically.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable

from sen2val_stac.atomic import write_atomic

CORE_SCHEMA = "https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json"
KINDS = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}
Fetch = Callable[[str], bytes]


class SchemaUnavailable(Exception):
    """A schema is neither in the mirror/cache nor downloadable."""


@dataclass
class SchemaViolation:
    """One problem in one file."""

    path: str
    schema: str
    location: str
    message: str

    def __str__(self) -> str:
        where = f" at {self.location}" if self.location not in ("", "$") else ""
        return f"{self.path}{where}: {self.message} ({self.schema})"


@dataclass
class ValidationResult:
    """Files checked and problems found."""

    files: list[str] = field(default_factory=list)
    errors: list[SchemaViolation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file is valid."""
        return not self.errors


def default_cache_dir() -> Path:
    """Folder where downloaded schemas are kept."""
    env = os.environ.get("SEN2VAL_SCHEMA_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sen2val-stac" / "schemas"


def url_to_path(root: Path, url: str) -> Path:
    """``https://host/a/b.json`` -> ``root/host/a/b.json``."""
    parts = urlsplit(url)
    return root / parts.netloc / parts.path.lstrip("/")


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - schema URLs are https
        return response.read()


class SchemaStore:
    """Resolves schema URLs from a read-only mirror, or a cache filled by ``fetch``."""

    def __init__(self, mirror: str | os.PathLike[str] | None = None, cache: str | os.PathLike[str] | None = None,
                 fetch: Fetch = _download) -> None:
        self.mirror = Path(mirror) if mirror else None
        self.cache = Path(cache) if cache else default_cache_dir()
        self.fetch = fetch
        self.fetched: list[str] = []
        self._validators: dict[str, Draft7Validator] = {}
        self.registry: Registry = Registry(retrieve=self._retrieve)

    def load(self, url: str) -> Any:
        """The JSON of schema ``url``."""
        url = url.split("#", 1)[0]
        if self.mirror is not None:
            path = url_to_path(self.mirror, url)
            if not path.is_file():
                raise SchemaUnavailable(f"schema {url} is not in the mirror (expected {path})")
            return json.loads(path.read_text(encoding="utf-8"))
        path = url_to_path(self.cache, url)
        if not path.is_file():
            try:
                payload = self.fetch(url)
                json.loads(payload)
            except (OSError, ValueError) as exc:
                raise SchemaUnavailable(f"cannot download schema {url}: {exc}") from exc
            write_atomic(str(path), payload)
            self.fetched.append(url)
        return json.loads(path.read_text(encoding="utf-8"))

    def _retrieve(self, uri: str) -> Resource:
        try:
            return Resource.from_contents(self.load(uri))
        except SchemaUnavailable as exc:
            raise NoSuchResource(ref=uri) from exc

    def validator(self, url: str) -> Draft7Validator:
        """A compiled (cached) validator for schema ``url``."""
        if url not in self._validators:
            schema = self.load(url)
            self._validators[url] = Draft7Validator(schema, registry=self.registry)
        return self._validators[url]


def schema_urls(doc: dict[str, Any]) -> list[str]:
    """Core schema of the document's type and version, then its extension schemas."""
    kind = KINDS.get(doc.get("type", ""))
    if kind is None:
        raise ValueError(f"not a STAC object: type is {doc.get('type')!r}")
    version = doc.get("stac_version", "1.1.0")
    return [CORE_SCHEMA.format(version=version, kind=kind), *doc.get("stac_extensions", [])]


def validate_document(doc: dict[str, Any], path: str, store: SchemaStore) -> list[SchemaViolation]:
    """Problems of one STAC document against its core and extension schemas."""
    try:
        urls = schema_urls(doc)
    except ValueError as exc:
        return [SchemaViolation(path, "-", "$", str(exc))]
    errors = []
    for url in urls:
        try:
            validator = store.validator(url)
            found = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        except (SchemaUnavailable, Unresolvable) as exc:
            errors.append(SchemaViolation(path, url, "$", f"schema unavailable: {exc}"))
            continue
        for e in found:
            deepest = best_match([e])
            errors.append(SchemaViolation(path, url, deepest.json_path, _describe(deepest)))
    return errors


def _describe(error: Any) -> str:
    """The error message without a dump of the instance, plus the reasons of each alternative tried."""
    message = error.message
    instance = repr(error.instance)
    if len(instance) > 60 and message.startswith(instance):
        message = "value" + message[len(instance):]
    reasons = sorted({c.message for c in error.context if len(c.message) < 120})
    if reasons:
        message += " (" + "; ".join(reasons[:4]) + ")"
    return _short(message)


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[:limit] + "..."


def walk_catalog(root_file: Path) -> Iterator[tuple[Path, dict[str, Any] | None, str | None]]:
    """Yield (file, document or None, error) for the root and every file reached by child/item links."""
    seen: set[Path] = set()
    todo = [root_file.resolve()]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            yield path, None, "linked file does not exist"
            continue
        except (OSError, ValueError) as exc:
            yield path, None, f"not readable JSON: {exc}"
            continue
        yield path, doc, None
        for link in doc.get("links", []) if isinstance(doc, dict) else []:
            if link.get("rel") in ("child", "item"):
                href = link.get("href", "")
                target = _local_target(path, href, root_file)
                if target is not None:
                    todo.append(target)


def _local_target(base: Path, href: str, root_file: Path) -> Path | None:
    if "://" not in href:
        return (base.parent / href).resolve()
    if href.startswith("file://"):
        return Path(urlsplit(href).path)
    # Absolute published catalogue: map the URL onto the local tree using the root's self link.
    root = json.loads(root_file.read_text(encoding="utf-8"))
    for link in root.get("links", []):
        if link.get("rel") == "self":
            prefix = link["href"].rsplit("/", 1)[0] + "/"
            if href.startswith(prefix):
                return (root_file.parent / href[len(prefix):]).resolve()
    return None


def validate_catalog(catalog: str | os.PathLike[str], store: SchemaStore) -> ValidationResult:
    """Validate the catalogue at ``catalog`` (a folder holding catalog.json, or a JSON file)."""
    root = Path(catalog)
    if root.is_dir():
        root = root / "catalog.json"
    if not root.is_file():
        raise FileNotFoundError(f"{root}: no catalog.json")
    result = ValidationResult()
    for path, doc, error in walk_catalog(root):
        result.files.append(str(path))
        if error:
            result.errors.append(SchemaViolation(str(path), "-", "$", error))
        else:
            result.errors.extend(validate_document(doc, str(path), store))
    return result
