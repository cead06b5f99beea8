#!/usr/bin/env python
"""Render docs/img/footprints-map.png from the demo catalogue (needs the `docs` extra: matplotlib).

    python scripts/make_docs_figures.py [--workdir /tmp/sen2val-docs]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sen2val_stac.demo import build_demo  # noqa: E402
from sen2val_stac.query import query_frame  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "img" / "footprints-map.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default="/tmp/sen2val-docs")
    args = parser.parse_args()
    catalog, _ = build_demo(args.workdir, progress=False)
    frame = query_frame(catalog, index="NDVI")
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    colours = plt.get_cmap("viridis")
    dates = sorted(frame["datetime"].dt.strftime("%m-%d").unique())
    for _, row in frame.sort_values("datetime").iterrows():
        i = dates.index(row["datetime"].strftime("%m-%d"))
        x, y = row.geometry.exterior.xy if row.geometry.geom_type == "Polygon" else row.geometry.geoms[0].exterior.xy
        ax.plot(x, y, color=colours(i / max(1, len(dates) - 1)), linewidth=1.2, alpha=0.9)
    for tile, group in frame.groupby("sen2chain:tile"):
        c = group.geometry.union_all().centroid
        ax.annotate(f"{tile}\n{len(group)} dates", (c.x, c.y), ha="center", va="center", fontsize=10, weight="bold")
    area = frame.to_crs(3857).geometry.area
    partial = frame[area < 0.8 * area.max()]
    for _, row in partial.iterrows():
        ax.fill(*row.geometry.exterior.xy, color="orange", alpha=0.35,
                label=f"partial swath {row['datetime']:%Y-%m-%d}")
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°)")
    ax.set_title("Valid-data footprints of the demo's NDVI items (one outline per date)")
    ax.set_aspect("equal")
    ax.grid(True, linewidth=0.3)
    ax.legend(loc="lower left", fontsize=8)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, bbox_inches="tight")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
