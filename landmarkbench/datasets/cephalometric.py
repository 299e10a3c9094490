"""The 19 cephalometric landmarks of ISBI 2015, in the annotation files' order.

Read from the ISBI 2015 manifest (``datasets_manifest/isbi2015.yaml``), their one source;
the synthetic cephalograms use the same names.
"""

from __future__ import annotations

from landmarkbench.acquire.manifest import dataset_facts

ISBI_LANDMARK_NAMES: tuple[str, ...] = dataset_facts("isbi2015").landmark_names
