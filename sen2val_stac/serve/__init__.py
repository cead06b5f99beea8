"""Serving the catalogue over HTTP."""
