"""Stage 2, the static STAC catalogue: rendering, the incremental indexer, reading it back, parquet, query."""
