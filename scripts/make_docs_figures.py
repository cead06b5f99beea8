#!/usr/bin/env python
"""Regenerate the docs' generated parts.

- ``docs/img/footprints-map.png``: valid-data footprints of the demo's NDVI items, one panel per tile and date,
  over the tile's full extent, in lon/lat (needs the ``docs`` extra: matplotlib);
- in ``docs/user-guide.md``: the configuration reference (the commented example ``init-config`` writes) and the
  command reference (every sub-command's ``--help``), between ``<!-- NAME:start -->`` / ``<!-- NAME:end -->``;
- in ``README.md``: the command table (each sub-command's usage line and one-line help), between the same markers.

    python scripts/make_docs_figures.py [--workdir /tmp/sen2val-docs] [--text-only]
"""

from __future__ import annotations

import argparse
import io
import os
import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
FIGURE = DOCS / "img" / "footprints-map.png"
GUIDE = DOCS / "user-guide.md"
README = DOCS.parent / "README.md"
HELP_COLUMNS = "100"


def command_reference() -> str:
    """Markdown: one ``### `sen2val-stac CMD` `` section per sub-command with its ``--help`` text."""
    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps to the terminal width: make it stable
    from sen2val_stac.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    parts = []
    for name, cmd in sorted(sub.choices.items()):
        parts.append(f"### `sen2val-stac {name}`\n\n```text\n{cmd.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Sub-command name -> (its parser, its one-line help), sorted by name."""
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not found:
        return {}
    helps = {a.dest: a.help or "" for a in found[0]._choices_actions}
    return {name: (sub, helps.get(name) or sub.description or "") for name, sub in sorted(found[0].choices.items())}


def _usage(parser: argparse.ArgumentParser) -> str:
    """``sen2val-stac CMD [options] ARGS`` on one line, without ``[-h]``."""
    usage = " ".join(parser.format_usage().removeprefix("usage: ").split())
    return usage.replace(" [-h]", "").replace("|", "\\|")


def command_table() -> str:
    """Markdown: the README table, one row per sub-command (per action of those that have actions)."""
    os.environ["COLUMNS"] = HELP_COLUMNS
    from sen2val_stac.cli import build_parser

    rows = ["| command | what it does |", "|---|---|"]
    for cmd, text in _subcommands(build_parser()).values():
        for parser, line in list(_subcommands(cmd).values()) or [(cmd, text)]:
            rows.append(f"| `{_usage(parser)}` | {' '.join(line.split())} |")
    return "\n".join(rows) + "\n"


def config_reference() -> str:
    """Markdown: the commented example configuration."""
    from sen2val_stac.commands.init_config import example_config

    return f"```yaml\n{example_config()}```\n"


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{GUIDE}: markers <!-- {name}:start/end --> not found")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def write_guide() -> None:
    """Refresh the generated blocks of the user guide (atomically, only when they changed)."""
    from sen2val_stac.core.atomic import write_if_changed

    text = GUIDE.read_text(encoding="utf-8")
    text = replace_block(text, "config-example", config_reference())
    text = replace_block(text, "command-reference", command_reference())
    print(f"{'wrote' if write_if_changed(str(GUIDE), text.encode('utf-8')) else 'unchanged'} {GUIDE}")
    readme = replace_block(README.read_text(encoding="utf-8"), "commands", command_table())
    print(f"{'wrote' if write_if_changed(str(README), readme.encode('utf-8')) else 'unchanged'} {README}")


def _tile_extent(row) -> object:
    """The full tile (proj:bbox in its UTM CRS) as a lon/lat polygon."""
    import geopandas as gpd
    from shapely.geometry import box

    extent = gpd.GeoSeries([box(*row["proj:bbox"]).segmentize(1000)], crs=row["proj:code"])
    return extent.to_crs(4326).iloc[0]


def write_figure(workdir: str) -> None:
    """Render the footprints figure from a fresh demo catalogue in ``workdir``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sen2val_stac.catalog.query import query_frame
    from sen2val_stac.core.atomic import write_if_changed
    from sen2val_stac.demo.build import build_demo

    catalog, _ = build_demo(workdir, progress=False)
    frame = query_frame(catalog, index="NDVI").sort_values(["sen2chain:tile", "datetime"])
    tiles = list(frame.groupby("sen2chain:tile"))
    columns = max(len(group) for _, group in tiles)
    fig, axes = plt.subplots(len(tiles), columns, figsize=(2.3 * columns, 2.9 * len(tiles)), dpi=110,
                             squeeze=False, sharey="row")
    for r, (tile, group) in enumerate(tiles):
        extent = _tile_extent(group.iloc[0])
        for c, (_, row) in enumerate(group.iterrows()):
            ax = axes[r][c]
            ax.plot(*extent.exterior.xy, color="grey", linestyle="--", linewidth=0.8)
            polygons = getattr(row.geometry, "geoms", [row.geometry])
            share = row.geometry.area / extent.area
            colour = "tab:green" if share > 0.8 else "tab:orange"
            for polygon in polygons:
                ax.fill(*polygon.exterior.xy, color=colour, alpha=0.45)
                ax.plot(*polygon.exterior.xy, color=colour, linewidth=1.2)
            ax.set_title(f"{row['datetime']:%Y-%m-%d}\nvalid {share:.0%}, cloud {row['eo:cloud_cover']:.0f} %",
                         fontsize=8)
            ax.set_aspect("equal")
            ax.tick_params(labelsize=7)
            ax.grid(True, linewidth=0.3)
            if r == len(tiles) - 1:
                ax.set_xlabel("lon (°E)", fontsize=7)
        axes[r][0].set_ylabel(f"{tile} ({group.iloc[0]['proj:code']})\nlat (°)", fontsize=8)
        for c in range(len(group), columns):
            axes[r][c].axis("off")
    fig.suptitle("Valid-data footprints of the demo's NDVI items (item geometry) over the full tile (dashed);\n"
                 "orange: partial swath", fontsize=10)
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png", bbox_inches="tight")
    print(f"{'wrote' if write_if_changed(str(FIGURE), png.getvalue()) else 'unchanged'} {FIGURE}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/sen2val-docs", help="where the demo catalogue is built")
    parser.add_argument("--text-only", action="store_true", help="only refresh the user guide's generated blocks")
    args = parser.parse_args()
    write_guide()
    if not args.text_only:
        write_figure(args.workdir)


if __name__ == "__main__":
    main()
