"""Stage 3, products derived from catalogue queries: footprint layers, geoflow, metadata, NetCDF cubes."""
