"""Progress bars for long work: rich on a terminal, silent in CI and when output is redirected."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Advance(Protocol):
    """Callable advancing a progress bar by ``n`` steps."""

    def __call__(self, n: int = 1) -> None: ...


def interactive() -> bool:
    """True when a person is watching: stderr is a terminal and ``CI`` is not set."""
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def progress_bar(description: str, total: int, enabled: bool | None = None) -> Iterator[Advance]:
    """Yield an ``advance(n)`` callable; draws a rich progress bar only when ``enabled`` (default: interactive)."""
    if enabled is None:
        enabled = interactive()
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n=1: progress.advance(task, n)
