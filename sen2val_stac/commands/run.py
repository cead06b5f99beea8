"""``sen2val-stac run``: the whole chain from one configuration file (for cron)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sen2val_stac.config import load_config
from sen2val_stac.core.errors import InputError
from sen2val_stac.pipeline import STEPS, ChainReport, parse_steps, run_chain

NAME = "run"
HELP = (f"Run the chain ({', '.join(STEPS)}; config run.steps chooses) in order from one config, "
        "under a catalogue lock.")
EPILOG = ("Exit status: 0 every step succeeded, 1 a step failed, 2 configuration error, "
          "3 another run holds the catalogue lock (after --wait seconds).")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``run``."""
    parser.epilog = EPILOG
    parser.add_argument("--config", required=True, help="sen2val.yaml (sen2val-stac init-config writes one)")
    parser.add_argument("--steps", help=f"comma-separated subset of {','.join(STEPS)}, run in that order "
                                         "(default: config run.steps)")
    parser.add_argument("--wait", type=float, metavar="SECONDS", help="seconds to wait for another run's lock, then exit 3 "
                                                   "(default: config run.wait, 0)")


def print_report(report: ChainReport, out: Any = None) -> None:
    """The summary table: step, status, seconds, what it wrote; then when the lock was held."""
    out = out or sys.stdout
    width = max([4, *(len(r.step) for r in report.results)])
    print(f"{'step'.ljust(width)}  status   seconds  summary", file=out)
    for r in report.results:
        print(f"{r.step.ljust(width)}  {r.status.ljust(7)}  {r.seconds:7.1f}  {r.summary}", file=out)
    print(f"lock acquired {report.locked_at:%Y-%m-%dT%H:%M:%S.%fZ} (waited {report.waited:.1f} s), "
          f"released {report.released_at:%Y-%m-%dT%H:%M:%S.%fZ}", file=out)
    if report.leftovers:
        print(f"removed {len(report.leftovers)} temporary file(s) left by a killed run", file=out)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every step succeeded, 1 when a step failed, 2 on config errors, 3 when locked."""
    config = load_config(args.config)
    if args.steps is not None:
        steps = parse_steps(args.steps, "--steps")
    else:
        steps = parse_steps(config["run"]["steps"], f"{args.config}: key 'run.steps'")
    wait = config["run"]["wait"] if args.wait is None else args.wait
    try:
        report = run_chain(config, steps, wait=wait)
    except OSError as exc:
        raise InputError(f"cannot lock the catalogue: {exc}") from exc
    print_report(report)
    return 0 if report.ok else 1
