"""Heatmap targets (landmark -> map) and decoders (map -> landmark coordinate)."""
