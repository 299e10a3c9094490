"""Moved to ``landmarkbench.preprocessing.geometry`` (exported models apply it without the
training code); re-exported here for existing imports."""

from landmarkbench.preprocessing.geometry import ResizePad

__all__ = ["ResizePad"]
