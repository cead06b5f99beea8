"""Arguments shared by several sub-commands (not a command itself: it has no NAME)."""

from __future__ import annotations

import argparse


def add_catalog_out_config(parser: argparse.ArgumentParser, out_required: bool = True) -> None:
    """``CATALOG``, ``--out`` and ``--config``: what every derivation command takes."""
    parser.add_argument("catalog", help="catalogue folder")
    parser.add_argument("--out", required=out_required, help="output folder")
    parser.add_argument("--config", help="sen2val.yaml")


def add_item_filters(parser: argparse.ArgumentParser) -> None:
    """``--index``, ``--tile``, ``--start``, ``--end``: which items a command works on."""
    parser.add_argument("--index", help="only this index, e.g. NDVI")
    parser.add_argument("--tile", help="only this MGRS tile, e.g. 40KCB")
    parser.add_argument("--start", help="first date, YYYY-MM-DD (inclusive)")
    parser.add_argument("--end", help="last date, YYYY-MM-DD (inclusive)")
