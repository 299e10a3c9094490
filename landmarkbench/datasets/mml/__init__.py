"""MML mandibular molars (3D CT).

adapter (the dataset), layout (release paths and parsers), tree (checks and fixture).
"""
