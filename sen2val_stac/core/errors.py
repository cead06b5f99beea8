"""The one error base class: every error a user can cause carries its exit status.

Commands raise; :func:`sen2val_stac.cli.main` prints ``error: <message>`` once and exits with
``exit_code``. Exit statuses: 1 nothing could be done (e.g. nothing indexed), 2 bad input or
configuration, 3 the catalogue is locked by another run.
"""

from __future__ import annotations


class Sen2valError(Exception):
    """Base of the errors a user can cause; ``exit_code`` is the process exit status for it."""

    exit_code: int = 2


class InputError(Sen2valError, ValueError):
    """Bad input: a file, a parameter or a configuration value; the message names it and says why."""

    exit_code = 2


class NothingDone(Sen2valError):
    """The command ran but produced nothing (every input was skipped)."""

    exit_code = 1


__all__ = ["InputError", "NothingDone", "Sen2valError"]
