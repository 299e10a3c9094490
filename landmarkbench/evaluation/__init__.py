"""Scoring predictions.

Point errors and SDR (metrics), multi-instance matching, the bootstrap (statistics), and
the point / instance scoring of a fold (scoring).
"""
