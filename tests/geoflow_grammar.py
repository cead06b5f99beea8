"""A parser of geoflow's tabular cell grammar, written from geoflow's own source and docs.

- a cell holds parts separated by ``_`` + newline (``_\\r?\\n``);
- a part is ``key:values``, split at the first ``:`` that is not followed by ``//`` and not in quotes;
- a key may carry ``[description]``, ``@uri`` and ``#LL`` (language);
- values split on ``,`` outside double quotes; each value may carry ``[description]`` and ``@uri``
  (``@`` always splits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PART_SEPARATOR = re.compile(r"_\r?\n")


@dataclass
class Value:
    text: str
    description: str | None = None
    uri: str | None = None


@dataclass
class Part:
    key: str | None
    key_description: str | None = None
    key_uri: str | None = None
    language: str | None = None
    values: list[Value] = field(default_factory=list)


class GrammarError(ValueError):
    pass


def split_parts(cell: str) -> list[str]:
    return [p for p in PART_SEPARATOR.split(cell) if p != ""]


def _split_key(part: str) -> tuple[str | None, str]:
    in_quotes = False
    for i, ch in enumerate(part):
        if ch == '"':
            in_quotes = not in_quotes
        elif ch == ":" and not in_quotes and not part.startswith("//", i + 1):
            return part[:i], part[i + 1:]
    return None, part


def _split_values(text: str) -> list[str]:
    out, current, in_quotes = [], "", False
    for ch in text:
        if ch == '"':
            in_quotes = not in_quotes
        if ch == "," and not in_quotes:
            out.append(current)
            current = ""
        else:
            current += ch
    if in_quotes:
        raise GrammarError(f"unbalanced double quote in {text!r}")
    out.append(current)
    return out


def _decorations(token: str) -> tuple[str, str | None, str | None]:
    uri = None
    if "@" in token:
        token, uri = token.split("@", 1)
    description = None
    m = re.search(r"\[(.*)\]$", token)
    if m:
        description, token = m.group(1), token[: m.start()]
    return token, description, uri


def parse_part(part: str) -> Part:
    key, rest = _split_key(part)
    if key is None:
        return Part(None, values=[Value(*_decorations(v)) for v in _split_values(rest)])
    language = None
    if "#" in key:
        key, language = key.split("#", 1)
        if not re.fullmatch(r"[A-Z]{2}", language):
            raise GrammarError(f"bad language suffix #{language}")
    key, key_desc, key_uri = _decorations(key)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", key):
        raise GrammarError(f"bad key {key!r} in part {part[:60]!r}")
    values = []
    for raw in _split_values(rest):
        text, desc, uri = _decorations(raw)
        values.append(Value(text.strip('"'), desc, uri))
    # A second unquoted key:value inside one part means a missing line separator.
    for v in values:
        if re.match(r"^[A-Za-z]+:(?!//)", v.text) and not v.text.startswith(("SRID=",)):
            raise GrammarError(f"line separator missing before {v.text[:40]!r}")
    return Part(key, key_desc, key_uri, language, values)


def parse_cell(cell: str) -> list[Part]:
    return [parse_part(p) for p in split_parts(cell)]
