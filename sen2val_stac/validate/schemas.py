"""Where STAC JSON schemas come from, and the two validators built from each: a compiled screen and jsonschema.

Schemas are resolved offline from a local mirror (``https://host/path`` -> ``MIRROR/host/path``) when one
is given, and then the network is never used; otherwise they are read from a cache folder
(``$SEN2VAL_SCHEMA_CACHE`` or ``~/.cache/sen2val-stac/schemas``, same layout) that is filled on first use
by downloading each missing schema once, atomically. The JSON Schema metaschemas come with ``jsonschema``,
and the schemas this project publishes (``catalog_templates/schemas/**/schema.json``, by their ``$id``, e.g.
the ``sen2chain`` extension) are read from the package, never from the mirror or the network.

Per schema URL the store builds, once:

- a **screen**: the schema compiled to Python by ``fastjsonschema`` (the engine stac-valid's
  ``FastValidator`` is built on, here fed the unmodified schemas; pass/fail code, no messages built) with the same format checks as
  ``jsonschema``; it answers "valid or not" about 10x faster than ``jsonschema``, and every ``$ref`` is
  resolved when it is compiled, so it is None when one of them cannot be loaded;
- a ``jsonschema`` **validator** with a :class:`referencing.Registry` retrieving from the same mirror or
  cache, which resolves references only where a document needs them and reports every error with its
  location. Documents the screen rejects (or that have no screen) are checked with it.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

import fastjsonschema
import jsonschema_specifications
from jsonschema import Draft7Validator, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT7

from sen2val_stac.core.atomic import write_atomic
from sen2val_stac.core.templates import templates_dir

Fetch = Callable[[str], bytes]
"""Downloads the bytes of a schema URL."""

Screen = Callable[[Any], Any]
"""A compiled schema: returns when the document is valid, raises when it is not."""

_METASCHEMA_HOST = "json-schema.org"
"""JSON Schema metaschemas are built into ``jsonschema`` (``jsonschema_specifications``), never fetched."""


class SchemaUnavailable(Exception):
    """A schema is neither in the mirror/cache nor downloadable."""


def default_cache_dir() -> Path:
    """Folder where downloaded schemas are kept: ``$SEN2VAL_SCHEMA_CACHE`` or ``~/.cache/sen2val-stac/schemas``."""
    env = os.environ.get("SEN2VAL_SCHEMA_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "sen2val-stac" / "schemas"


def url_to_path(root: str | os.PathLike[str], url: str) -> Path:
    """``https://host/a/b.json`` -> ``root/host/a/b.json`` (refuses non-HTTP URLs and paths escaping ``root``)."""
    parts = urlsplit(urldefrag(url).url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SchemaUnavailable(f"schema {url}: only http(s) URLs can be resolved")
    relative = posixpath.normpath(unquote(parts.path).lstrip("/")) if parts.path.strip("/") else ""
    if relative in ("", ".") or relative.startswith(("..", "/")):
        raise SchemaUnavailable(f"schema {url}: the URL path does not name a file")
    return Path(root, parts.netloc, *relative.split("/"))


def download(url: str, timeout: float = 30.0) -> bytes:
    """Download ``url`` with urllib (the default :data:`Fetch`)."""
    request = urllib.request.Request(url, headers={"User-Agent": "sen2val-stac schema cache"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload: bytes = response.read()
            return payload
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the open response
        raise


def fetch_via(base_url_map: Mapping[str, str], timeout: float = 30.0) -> Fetch:
    """A :data:`Fetch` that rewrites URL prefixes before downloading, longest prefix first.

    ``fetch_via({"https://": "http://127.0.0.1:8000/"})`` fetches ``https://host/p`` from
    ``http://127.0.0.1:8000/host/p`` (a server holding a mirror); other URLs are downloaded as they are.
    """
    prefixes = sorted(base_url_map.items(), key=lambda kv: len(kv[0]), reverse=True)

    def fetch(url: str) -> bytes:
        for prefix, replacement in prefixes:
            if url.startswith(prefix):
                return download(replacement + url[len(prefix):], timeout)
        return download(url, timeout)

    return fetch


def bundled_schemas() -> dict[str, Path]:
    """Schemas shipped in ``catalog_templates/schemas/``: their ``$id`` URL (without ``#``) -> file."""
    found: dict[str, Path] = {}
    for path in sorted((templates_dir() / "schemas").glob("**/*.json")):
        try:
            schema_id = json.loads(path.read_bytes()).get("$id")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(schema_id, str) and schema_id.startswith(("http://", "https://")):
            found[urldefrag(schema_id).url] = path
    return found


def _screen_formats() -> dict[str, Callable[[Any], bool]]:
    """``format`` checks of the screen: exactly those of ``jsonschema``'s draft 7 checker (formats it does not
    check, e.g. ``iri`` without ``rfc3987``, pass), so the screen never rejects what jsonschema accepts."""
    checker = Draft7Validator.FORMAT_CHECKER
    names = set(fastjsonschema.draft07.CodeGeneratorDraft07.FORMAT_REGEXS) | set(checker.checkers) | {"regex"}

    def check(name: str) -> Callable[[Any], bool]:
        if name not in checker.checkers:
            return lambda value: True
        return lambda value: checker.conforms(value, name)

    return {name: check(name) for name in names}


class _PassFailDraft07(fastjsonschema.draft07.CodeGeneratorDraft07):
    """fastjsonschema's draft 7 code generator whose failures raise a bare exception: the screen only answers
    valid or not (jsonschema reports), so no message, no expanded definition is generated for each rule; that
    is most of the compile time. (``detailed_exceptions=False`` does the same but fails on ``const``.)"""

    def exc(self, msg: str, *args: Any, append_to_msg: str | None = None, rule: str | None = None) -> None:
        self.l("raise JsonSchemaValueException('invalid')")


def compile_screen(schema: dict[str, Any], handlers: Mapping[str, Callable[[str], Any]], use_formats: bool) -> Screen:
    """The pass/fail screen of a draft 7 ``schema``: :func:`fastjsonschema.compile` with a generator that
    builds no messages, jsonschema's format checks, defaults never written into the document."""
    from fastjsonschema.ref_resolver import RefResolver

    formats = _screen_formats()
    resolver = RefResolver.from_schema(schema, handlers=handlers, store={})
    generator = _PassFailDraft07(  # type: ignore[no-untyped-call]
        schema, resolver=resolver, formats=formats, use_default=False, use_formats=use_formats)
    state: dict[str, Any] = generator.global_state
    exec(generator.func_code, state)  # the code fastjsonschema generated from the schema, as its compile() does
    return functools.partial(state[resolver.get_scope_name()], custom_formats=formats)


class SchemaStore:
    """Resolves schema URLs from a read-only mirror, or from a cache filled by ``fetch``; builds validators.

    With ``mirror`` the network is never used and a schema missing from it is an error naming the URL
    and the expected file. Without it, ``cache`` (default :func:`default_cache_dir`) is read first and a
    missing schema is downloaded once with ``fetch`` and written there atomically; ``fetched`` lists the
    URLs downloaded by this store, ``reads`` counts the schema files parsed. Schemas are read once,
    validators built once per URL, and failures are remembered so a missing schema costs one attempt.
    ``local`` maps schema URLs to files read instead (default :func:`bundled_schemas`, the project's own).
    ``screen=False`` checks every document with ``jsonschema`` alone (slower, same findings).
    """

    def __init__(
        self,
        mirror: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        fetch: Fetch = download,
        format_check: bool = True,
        screen: bool = True,
        local: Mapping[str, str | os.PathLike[str]] | None = None,
    ) -> None:
        self.local = {url: Path(p) for url, p in (bundled_schemas() if local is None else local).items()}
        self.mirror = Path(mirror) if mirror else None
        self.cache = Path(cache) if cache else default_cache_dir()
        self.fetch = fetch
        self.format_checker = Draft7Validator.FORMAT_CHECKER if format_check else None
        self.use_screen = screen
        self.fetched: list[str] = []
        self.reads = 0
        self.registry: Registry[Any] = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self._documents: dict[str, Any] = {}
        self._registry_size = 0
        self._failures: dict[str, SchemaUnavailable] = {}
        self._validators: dict[str, Validator | Exception] = {}
        self._screens: dict[str, Screen | None] = {}

    def describe(self) -> str:
        """Where schemas come from, for messages."""
        if self.mirror is not None:
            return f"schemas from the mirror {self.mirror}"
        fetched = f", {len(self.fetched)} downloaded now" if self.fetched else ""
        return f"schemas from the cache {self.cache}{fetched}"

    def load(self, url: str) -> Any:
        """The JSON of schema ``url`` (read once, then kept in memory); raises :class:`SchemaUnavailable`."""
        url = urldefrag(url).url
        if url in self._documents:
            return self._documents[url]
        if url in self._failures:
            raise self._failures[url]
        try:
            document = self._read(url)
        except SchemaUnavailable as exc:
            self._failures[url] = exc
            raise
        self._documents[url] = document
        return document

    def _read(self, url: str) -> Any:
        if urlsplit(url).hostname == _METASCHEMA_HOST:
            try:
                return jsonschema_specifications.REGISTRY.contents(url if url.endswith("#") else url + "#")
            except NoSuchResource:
                pass  # not a metaschema jsonschema knows: read or download it like any other schema
        if url in self.local:
            return self._parse(url, self.local[url].read_bytes(), self.local[url])
        if self.mirror is not None:
            path = url_to_path(self.mirror, url)
            if not path.is_file():
                raise SchemaUnavailable(f"schema {url} is not in the mirror (expected {path})")
            return self._parse(url, path.read_bytes(), path)
        path = url_to_path(self.cache, url)
        if path.is_file():
            return self._parse(url, path.read_bytes(), path)
        try:
            payload = self.fetch(url)
        except (OSError, ValueError) as exc:
            raise SchemaUnavailable(f"cannot download schema {url} into {path}: {exc}") from exc
        document = self._parse(url, payload, None)
        write_atomic(str(path), payload)
        self.fetched.append(url)
        return document

    def _parse(self, url: str, payload: bytes, path: Path | None) -> Any:
        self.reads += 1
        try:
            return json.loads(payload)
        except ValueError as exc:
            where = f" ({path})" if path else " (as downloaded)"
            raise SchemaUnavailable(f"schema {url}{where} is not valid JSON: {exc}") from exc

    def _crawled(self) -> Registry[Any]:
        """:attr:`registry` holding every schema loaded so far, crawled once (a lookup then costs a dict access,
        not a retrieval and a crawl); rebuilt when schemas were loaded since."""
        if len(self._documents) != self._registry_size:
            resources = [(url, Resource.from_contents(doc, default_specification=DRAFT7)) for url, doc in self._documents.items()]
            self.registry = Registry(retrieve=self._retrieve).with_resources(resources).crawl()  # type: ignore[call-arg]
            self._registry_size = len(self._documents)
        return self.registry

    def _retrieve(self, uri: str) -> Resource[Any]:
        """Registry retrieval: every reference jsonschema meets is loaded from the mirror or the cache."""
        try:
            return Resource.from_contents(self.load(uri), default_specification=DRAFT7)
        except SchemaUnavailable as exc:
            raise NoSuchResource(ref=uri) from exc  # type: ignore[call-arg]

    def validator(self, url: str) -> Validator:
        """The ``jsonschema`` validator of schema ``url`` (draft 7 unless it declares otherwise), built once;
        raises :class:`SchemaUnavailable` or the schema error (remembered too)."""
        url = urldefrag(url).url
        built = self._validators.get(url)
        if built is None:
            try:
                schema = self.load(url)
                cls = validators.validator_for(schema, default=Draft7Validator)
                cls.check_schema(schema)
                if not self.use_screen:
                    self._compile(url)  # loads every schema it refers to, as the screen does
                # a reference to the URL, so relative references resolve against it even without "$id"
                built = cls({"$ref": url}, registry=self._crawled(), format_checker=self.format_checker)
            except Exception as exc:
                built = exc
            self._validators[url] = built
        if isinstance(built, Exception):
            raise built
        return built

    def screen(self, url: str) -> Screen | None:
        """The compiled screen of schema ``url``, or None when it cannot be compiled (a reference that
        cannot be loaded, a construct the compiler refuses): then only :meth:`validator` applies."""
        url = urldefrag(url).url
        if url not in self._screens:
            self._screens[url] = self._compile(url) if self.use_screen else None
        return self._screens[url]

    def _compile(self, url: str) -> Screen | None:
        def handler(uri: str) -> Any:
            return self.load(uri)

        try:
            schema = self.load(url)
            if not isinstance(schema, dict) or validators.validator_for(schema, default=Draft7Validator) is not Draft7Validator:
                return None  # compiled as draft 7 only; other drafts go to jsonschema
            screen = compile_screen(schema, {"http": handler, "https": handler}, self.format_checker is not None)
        except Exception:
            return None
        return screen


__all__ = [
    "Fetch",
    "SchemaStore",
    "SchemaUnavailable",
    "Screen",
    "bundled_schemas",
    "default_cache_dir",
    "download",
    "fetch_via",
    "url_to_path",
]
