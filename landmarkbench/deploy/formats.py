"""The output formats of ``predict``: their names and file names (``deploy.outputs`` writes
them; the command line offers them without importing the writers)."""

from __future__ import annotations

__all__ = ["CL_DETECTION", "FILE_NAMES", "FORMATS"]

FILE_NAMES = {
    "csv": "landmarks.csv",
    "json": "landmarks.json",
    "cldetection": "cl_detection_2024.csv",
    "cldetection2023": "cl_detection_2023.json",
}
FORMATS = tuple(FILE_NAMES)
CL_DETECTION = ("cldetection", "cldetection2023")  # 2D, one point per landmark
