"""ISBI 2015 cephalometric X-rays.

adapter (the dataset), layout (release paths and parsers), tree (checks and fixture).
"""
