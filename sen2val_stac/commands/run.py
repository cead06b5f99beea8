"""``sen2val-stac run``: the whole chain from one configuration file (for cron)."""

from __future__ import annotations

import argparse
import sys

from sen2val_stac.config import ConfigError, load_config
from sen2val_stac.lock import CatalogLocked
from sen2val_stac.pipeline import STEPS, run_chain

NAME = "run"
HELP = "Run index, footprints, netcdf, geoflow and metadata in order from one config, under a catalogue lock."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``run``."""
    parser.add_argument("--config", required=True, help="sen2val.yaml (sen2val-stac init-config writes one)")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {','.join(STEPS)}")
    parser.add_argument("--wait", type=float, default=0.0,
                        help="seconds to wait for another run's lock (default 0: exit 3 at once)")


def run(args: argparse.Namespace) -> int:
    """Exit 0 when every step succeeded, 1 when a step failed, 2 on config errors, 3 when locked."""
    try:
        config = load_config(args.config)
        results = run_chain(config, tuple(s.strip() for s in args.steps.split(",") if s.strip()), wait=args.wait)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except CatalogLocked as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    width = max(len(r.step) for r in results) if results else 5
    print("step".ljust(width), " status  seconds  summary")
    for r in results:
        print(f"{r.step.ljust(width)}  {'ok    ' if r.ok else 'FAILED'}  {r.seconds:7.1f}  {r.summary}")
    return 0 if results and all(r.ok for r in results) else 1
