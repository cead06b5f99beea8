"""Validation of a static catalogue against the STAC JSON schemas."""
