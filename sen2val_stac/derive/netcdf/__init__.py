"""NetCDF cubes: assemble a series with stackstac, encode CF/ACDD, export incrementally, catalogue."""
