"""The demo: a realistic Sen2Chain tree written from scratch, then indexed."""
