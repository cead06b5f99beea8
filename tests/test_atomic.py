"""Atomic writes of a payload given in pieces: compared with the file on the way, never left half-written."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from sen2val_stac.core.atomic import TEMP_PREFIX, write_chunks_atomic


def test_chunks_equal_to_the_file_leave_it_untouched(tmp_path: Path) -> None:
    path = str(tmp_path / "sub" / "collection.json")
    assert write_chunks_atomic(path, [b"abc", b"def"], keep_if_equal=True)  # new file, folder created
    before = os.stat(path)
    assert not write_chunks_atomic(path, [b"a", b"bcde", b"", b"f"], keep_if_equal=True)  # other pieces, same bytes
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    for payload in ([b"abcde"], [b"abcdefg"], [b"abcdeX"], [b""]):  # shorter, longer, changed, empty
        assert write_chunks_atomic(path, payload, keep_if_equal=True)
        assert Path(path).read_bytes() == b"".join(payload)
    assert write_chunks_atomic(path, [b""]) and write_chunks_atomic(path, [b""])  # without comparing: always written
    assert os.listdir(tmp_path / "sub") == ["collection.json"]


def test_a_failure_while_the_chunks_pass_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "collection.json"
    path.write_bytes(b"old")

    def chunks() -> Iterator[bytes]:
        yield b"new, half"
        raise RuntimeError("rendering failed")

    for keep in (True, False):
        with pytest.raises(RuntimeError, match="rendering failed"):
            write_chunks_atomic(str(path), chunks(), keep_if_equal=keep)
        assert path.read_bytes() == b"old"
        assert not [n for n in os.listdir(tmp_path) if n.startswith(TEMP_PREFIX)]
