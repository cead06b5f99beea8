"""Subprocesses the tests start (servers on 127.0.0.1): stopping them the same way everywhere."""

from __future__ import annotations

import subprocess
from typing import Any


def stop(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Terminate ``proc`` and wait for it; kill it when it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
