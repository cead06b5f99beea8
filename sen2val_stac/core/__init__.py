"""Plumbing every stage uses: atomic writes, the catalogue lock, progress bars, templates, constants."""
