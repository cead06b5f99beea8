"""sen2val-stac: Sen2Chain index rasters as a static STAC catalogue, and everything derived from it."""

__version__ = "0.1.0"
