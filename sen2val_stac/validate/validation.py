"""Validate a static STAC catalogue against the JSON schemas of the core and of each declared extension.

Every catalog, collection and item reached from the root ``catalog.json`` through ``child`` and
``item`` links is checked against the core schema of its type and STAC version
(``https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json``) and against the
schema of each URL in its ``stac_extensions``; files that are missing or not parsable JSON are
reported too.

Schemas are resolved offline from a local mirror (``https://host/path`` -> ``MIRROR/host/path``)
when one is given, and then the network is never used; otherwise they are read from a cache folder
(``$SEN2VAL_SCHEMA_CACHE`` or ``~/.cache/sen2val-stac/schemas``, same layout) that is filled on
first use by downloading each missing schema once, atomically.

Each schema is compiled once per URL into a ``jsonschema`` validator (draft 7 unless the schema
declares otherwise) whose ``$ref`` s have been inlined, relative ones resolved against the enclosing
``$id``; what cannot be inlined is left to a :class:`referencing.Registry` that retrieves from the
same mirror or cache. Large catalogues can be validated in several processes.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import posixpath
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from jsonschema import Draft7Validator, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT7

from sen2val_stac.core.atomic import write_atomic

CORE_SCHEMA = "https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json"
KINDS = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}
FOLLOWED_RELS = ("child", "item")
NO_SCHEMA = "-"
"""``SchemaViolation.schema`` of problems found before any schema applies (unreadable file, not STAC)."""
LOCAL_DOCUMENTS = 256
"""Documents always validated in the calling process (small catalogues never start worker processes)."""
CHUNK_DOCUMENTS = 128
"""Documents per task sent to a worker process."""

Fetch = Callable[[str], bytes]
"""Downloads the bytes of a schema URL."""

_METASCHEMA_HOST = "json-schema.org"
"""JSON Schema metaschemas are built into ``jsonschema``; ``$ref`` s to them are left to its registry."""
_DATA_KEYWORDS = frozenset({"enum", "const", "examples", "default"})
"""Keywords whose values are instances, not schemas: never searched for ``$ref``."""


class SchemaUnavailable(Exception):
    """A schema is neither in the mirror/cache nor downloadable."""


class CatalogUnreadable(Exception):
    """The root catalogue file is missing or is not a JSON object."""


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
        wanted = str(Path(path).resolve())
        return [e for e in self.errors if e.path == wanted]


# --- schema sources ---------------------------------------------------------------------------------


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
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) only (url_to_path)
            return response.read()
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


class SchemaStore:
    """Resolves schema URLs from a read-only mirror, or from a cache filled by ``fetch``; compiles validators.

    With ``mirror`` the network is never used and a schema missing from it is an error naming the URL
    and the expected file. Without it, ``cache`` (default :func:`default_cache_dir`) is read first and a
    missing schema is downloaded once with ``fetch`` and written there atomically; ``fetched`` lists the
    URLs downloaded by this store. Schemas are read once, validators built once per URL, and failures
    are remembered so a missing schema costs one attempt, not one per document.
    """

    def __init__(
        self,
        mirror: str | os.PathLike[str] | None = None,
        cache: str | os.PathLike[str] | None = None,
        fetch: Fetch = download,
        format_check: bool = True,
    ) -> None:
        self.mirror = Path(mirror) if mirror else None
        self.cache = Path(cache) if cache else default_cache_dir()
        self.fetch = fetch
        self.format_checker = Draft7Validator.FORMAT_CHECKER if format_check else None
        self.fetched: list[str] = []
        self.reads = 0
        self.registry: Registry = Registry(retrieve=self._retrieve)  # type: ignore[call-arg]
        self._documents: dict[str, Any] = {}
        self._failures: dict[str, SchemaUnavailable] = {}
        self._validators: dict[str, Validator] = {}
        self._validator_failures: dict[str, Exception] = {}
        self._inlined: dict[str, Any] = {}
        self._inlining: set[str] = set()

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

    def _retrieve(self, uri: str) -> Resource:
        """Registry retrieval for the references that were not inlined."""
        try:
            return Resource.from_contents(self.load(uri), default_specification=DRAFT7)
        except SchemaUnavailable as exc:
            raise NoSuchResource(ref=uri) from exc

    def dereferenced(self, url: str) -> Any:
        """Schema ``url`` with every resolvable ``$ref`` replaced by the (shared) schema object it points to.

        Relative references are resolved against the enclosing ``$id`` (or the retrieval URL). In draft 7
        ``$ref`` overrides its siblings, so inlining is exact; recursive references become cycles. References
        to schemas that cannot be loaded, to anchors or to the JSON Schema metaschemas stay, made absolute,
        for the registry to resolve (or report) if a document reaches them. Inlining saves the reference
        lookups, about a third of the validation time.
        """
        url = urldefrag(url).url
        return self._inline_ref(url + "#")

    def _inline_ref(self, target: str) -> Any:
        """The dereferenced node at absolute ``target`` (``URL#pointer``), or ``{"$ref": target}``."""
        url, fragment = urldefrag(target)
        key = f"{url}#{fragment}"
        if key in self._inlined:
            return self._inlined[key]
        if urlsplit(url).hostname == _METASCHEMA_HOST or (fragment and not fragment.startswith("/")):
            return {"$ref": key}
        if key in self._inlining:  # a cycle of bare aliases: leave it to the registry
            return {"$ref": key}
        try:
            document = self.load(url)
            base, node = _locate(document, url, fragment)
        except (SchemaUnavailable, KeyError, IndexError, ValueError, TypeError):
            return {"$ref": key}
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), str):  # an alias: resolve it without a placeholder
            self._inlining.add(key)
            try:
                resolved = self._inline_ref(urljoin(_rebase(base, node), node["$ref"]))
            finally:
                self._inlining.discard(key)
            self._inlined[key] = resolved
            return resolved
        placeholder: dict[str, Any] = {}
        self._inlined[key] = placeholder  # recursive references get this object, filled below
        placeholder.update(self._inline(node, base))
        return placeholder

    def _inline(self, node: Any, base: str) -> Any:
        if isinstance(node, list):
            return [self._inline(value, base) for value in node]
        if not isinstance(node, dict):
            return node
        base = _rebase(base, node)
        if isinstance(node.get("$ref"), str):
            return self._inline_ref(urljoin(base, node["$ref"]))
        return {
            key: value if key in _DATA_KEYWORDS else self._inline(value, base)
            for key, value in node.items()
            if key != "$id"  # no relative reference is left, and each base change costs a URL join
        }

    def validator(self, url: str) -> Validator:
        """The compiled validator of schema ``url``, built once (a failure to build it is remembered too)."""
        url = urldefrag(url).url
        if url in self._validators:
            return self._validators[url]
        if url in self._validator_failures:
            raise self._validator_failures[url]
        try:
            schema = self.load(url)
            cls = validators.validator_for(schema, default=Draft7Validator)
            cls.check_schema(schema)
            validator = cls(self.dereferenced(url), registry=self.registry, format_checker=self.format_checker)
        except Exception as exc:
            self._validator_failures[url] = exc
            raise
        self._validators[url] = validator
        return validator


def _rebase(base: str, node: Mapping[str, Any]) -> str:
    """The base URI inside ``node``: changed by its ``$id`` (draft 7: a non-fragment ``$id``)."""
    node_id = node.get("$id")
    return urljoin(base, node_id) if isinstance(node_id, str) and not node_id.startswith("#") else base


def _locate(document: Any, url: str, fragment: str) -> tuple[str, Any]:
    """``(base URI, node)`` at JSON pointer ``fragment`` of the schema ``document`` retrieved from ``url``."""
    base = _rebase(url, document) if isinstance(document, dict) else url
    node = document
    for part in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            base = _rebase(base, node)
        node = node[int(part)] if isinstance(node, list) else node[part]
    return base, node


# --- documents --------------------------------------------------------------------------------------


def schema_urls(doc: Mapping[str, Any]) -> list[str]:
    """Core schema URL of the document's type and ``stac_version``, then its extension schema URLs.

    Raises :class:`ValueError` when ``doc`` is not a STAC catalog, collection or item.
    """
    kind = KINDS.get(doc.get("type")) if isinstance(doc.get("type"), str) else None
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
        try:
            found = list(store.validator(url).iter_errors(doc))
        except (SchemaUnavailable, Unresolvable) as exc:
            problems.append(SchemaViolation(path, url, "$", f"schema unavailable: {_reason(exc)}"))
            continue
        except Exception as exc:  # noqa: BLE001 - a broken schema is reported for the file, not raised
            problems.append(SchemaViolation(path, url, "$", f"schema unusable: {_reason(exc)}"))
            continue
        for error in sorted(found, key=lambda e: [str(p) for p in e.absolute_path]):
            specific = _most_specific(error)
            problems.append(SchemaViolation(path, url, specific.json_path, _describe(specific)))
    return problems


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
    message = error.message
    if error.validator == "additionalProperties" and error.validator_value is False and "regexes" in message:
        message = f"property not allowed here: {message}"
    instance = repr(error.instance)
    if len(instance) > 60 and message.startswith(instance):
        message = "value" + message[len(instance):]
    reasons = sorted({c.message for c in error.context if len(c.message) < 120})
    if reasons:
        message += " (" + "; ".join(reasons[:4]) + ")"
    return message if len(message) <= 300 else message[:300] + "..."


# --- walking the catalogue ----------------------------------------------------------------------------


def read_json(path: Path) -> tuple[Any, str | None]:
    """``(document, None)``, or ``(None, reason)`` when the file is missing or not parsable JSON."""
    try:
        return json.loads(path.read_bytes()), None
    except FileNotFoundError:
        return None, "linked file does not exist"
    except IsADirectoryError:
        return None, "linked path is a folder, not a JSON file"
    except (OSError, ValueError) as exc:
        return None, f"not readable JSON: {exc}"


def published_prefix(root_doc: Mapping[str, Any]) -> str | None:
    """Base URL of an absolute published catalogue (from the root's ``self`` link), or None."""
    links = root_doc.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == "self" and isinstance(link.get("href"), str):
            href = link["href"]
            if "://" in href and not href.startswith("file:"):
                return href.rsplit("/", 1)[0] + "/"
    return None


def link_target(base_file: Path, href: str, root_dir: Path, prefix: str | None) -> Path | None:
    """Local file of link ``href`` in ``base_file``: relative, absolute path, ``file://`` URL, or a URL under the
    published ``prefix`` (mapped onto ``root_dir``); None for any other remote URL."""
    if href.startswith("file:"):
        return Path(urllib.request.url2pathname(urlsplit(href).path)).resolve()
    if "://" not in href:
        return (base_file.parent / unquote(urldefrag(href).url)).resolve()
    if prefix and href.startswith(prefix):
        return (root_dir / unquote(urldefrag(href[len(prefix):]).url)).resolve()
    return None


def iter_catalog(root_file: Path, skipped: list[str] | None = None) -> Iterator[tuple[Path, Any, str | None]]:
    """Yield ``(file, document, None)`` or ``(file, None, reason)`` for the root and every file reached by
    ``child``/``item`` links, breadth first, each file once; remote hrefs are appended to ``skipped``."""
    root_file = root_file.resolve()
    root_doc, root_error = read_json(root_file)
    prefix = published_prefix(root_doc) if isinstance(root_doc, dict) else None
    seen: set[Path] = {root_file}
    todo: deque[Path] = deque([root_file])
    while todo:
        path = todo.popleft()
        doc, error = (root_doc, root_error) if path == root_file else read_json(path)
        yield path, doc, error
        links = doc.get("links") if isinstance(doc, dict) else None
        for link in links if isinstance(links, list) else []:
            if not isinstance(link, dict) or link.get("rel") not in FOLLOWED_RELS:
                continue
            href = link.get("href")
            if not isinstance(href, str) or not href:
                continue
            target = link_target(path, href, root_file.parent, prefix)
            if target is None:
                if skipped is not None:
                    skipped.append(href)
            elif target not in seen:
                seen.add(target)
                todo.append(target)


def root_catalog_file(catalog: str | os.PathLike[str]) -> Path:
    """``catalog.json`` in a catalogue folder, or the given file; :class:`CatalogUnreadable` if unusable."""
    root = Path(catalog)
    if root.is_dir():
        root = root / "catalog.json"
    if not root.is_file():
        raise CatalogUnreadable(f"{root}: no such catalogue file")
    doc, error = read_json(root)
    if error:
        raise CatalogUnreadable(f"{root}: {error}")
    if not isinstance(doc, dict):
        raise CatalogUnreadable(f"{root}: not a JSON object")
    return root


def validate_catalog(
    catalog: str | os.PathLike[str], store: SchemaStore | None = None, workers: int = 1
) -> ValidationResult:
    """Validate the catalogue at ``catalog`` (a folder holding catalog.json, or the root JSON file).

    ``store`` defaults to a download-cache :class:`SchemaStore`. With ``workers`` > 1, the documents after
    the first :data:`LOCAL_DOCUMENTS` are validated in that many processes, with the same mirror or cache
    (each schema is resolved here first, so nothing is downloaded twice). Raises :class:`CatalogUnreadable`
    when the root file is missing or not a JSON object; every other problem is in the result, in the order
    the files were reached.
    """
    store = store if store is not None else SchemaStore()
    root = root_catalog_file(catalog)
    result = ValidationResult()
    per_file: list[list[SchemaViolation]] = []
    batch: list[tuple[int, str]] = []
    pending: list[tuple[list[int], Future[list[list[SchemaViolation]]]]] = []
    with ExitStack() as stack:
        pool: ProcessPoolExecutor | None = None
        for path, doc, error in iter_catalog(root, result.skipped_links):
            index = len(result.files)
            result.files.append(str(path))
            if error:
                per_file.append([SchemaViolation(str(path), NO_SCHEMA, "$", error)])
            elif workers <= 1 or index < LOCAL_DOCUMENTS:
                per_file.append(validate_document(doc, str(path), store))
            else:
                per_file.append([])
                _prepare(doc, store)
                batch.append((index, str(path)))
            if len(batch) >= CHUNK_DOCUMENTS:
                pool = pool or stack.enter_context(_worker_pool(store, workers))
                pending.append(_submit(pool, batch))
                batch = []
        if batch:
            pool = pool or stack.enter_context(_worker_pool(store, workers))
            pending.append(_submit(pool, batch))
        for indices, future in pending:
            for index, problems in zip(indices, future.result()):
                per_file[index] = problems
    result.errors = [problem for problems in per_file for problem in problems]
    return result


def default_workers() -> int:
    """Worker processes used by the CLI by default: the CPUs this process may use, at most 8."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        available = os.cpu_count() or 1
    return max(1, min(available, 8))


# --- worker processes -----------------------------------------------------------------------------

_WORKER_STORE: SchemaStore | None = None


def _prepare(doc: Any, store: SchemaStore) -> None:
    """Resolve (download if needed) the schemas of ``doc`` in this process, before a worker needs them."""
    try:
        urls = schema_urls(doc)
    except ValueError:
        return
    for url in urls:
        try:
            store.validator(url)
        except Exception:  # noqa: BLE001, S110 - the worker reports it with the same message
            pass


def _worker_pool(store: SchemaStore, workers: int) -> ProcessPoolExecutor:
    """Processes each holding a :class:`SchemaStore` like ``store`` (same mirror, cache and format check)."""
    try:
        pickle.dumps(store.fetch)
        fetch = store.fetch
    except (pickle.PicklingError, AttributeError, TypeError):
        fetch = download  # a local closure cannot reach a spawned process; the cache is filled already
    args = (store.mirror, store.cache, fetch, store.format_checker is not None)
    # forkserver as in the indexer: workers never inherit the threads or locks of the calling process
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else None)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker, initargs=args)


def _init_worker(mirror: Path | None, cache: Path, fetch: Fetch, format_check: bool) -> None:
    global _WORKER_STORE
    _WORKER_STORE = SchemaStore(mirror=mirror, cache=cache, fetch=fetch, format_check=format_check)


def _submit(
    pool: ProcessPoolExecutor, batch: list[tuple[int, str]]
) -> tuple[list[int], Future[list[list[SchemaViolation]]]]:
    return [index for index, _ in batch], pool.submit(_validate_files, [path for _, path in batch])


def _validate_files(paths: list[str]) -> list[list[SchemaViolation]]:
    """Worker task: read and validate each file; the problems of each, in order."""
    assert _WORKER_STORE is not None, "worker not initialised"
    problems = []
    for path in paths:
        doc, error = read_json(Path(path))
        if error:
            problems.append([SchemaViolation(path, NO_SCHEMA, "$", error)])
        else:
            problems.append(validate_document(doc, path, _WORKER_STORE))
    return problems
