"""Stage 1, the input: Sen2Chain names, the tree scan, raster reads, footprints, thumbnails, the record."""
