"""Synthetic datasets that ship with the package (generated and cached on disk)."""
