"""Obtain and check a real dataset release: manifests, downloads, archives, validation."""
