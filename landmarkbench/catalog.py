"""The three registries (datasets, methods, protocols) and where their entries come from.

Adding a dataset, method or protocol: define it in a module under ``landmarkbench.datasets``,
``landmarkbench.methods`` or ``landmarkbench.protocols`` with the registry's ``register``
decorator at module level (``@DATASETS.register("name")``); the registry finds the module
by reading the package's source (``registry.registering_modules``), no list to extend.
Provider modules must not import torch, monai or mlflow at module level (``landmarkbench ls``
stays fast).

Code outside the package: an installed distribution declares entry points in the groups
``landmarkbench.datasets`` / ``landmarkbench.methods`` (``name = "package.module:Class"``),
and ``--dataset`` / ``--method`` also accept ``package.module:Class`` directly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from landmarkbench.registry import Registry

if TYPE_CHECKING:
    from landmarkbench.datasets.base import LandmarkDataset
    from landmarkbench.methods.base import Method

DATASETS: Registry[type[LandmarkDataset]] = Registry(
    "dataset",
    packages=["landmarkbench.datasets"],
    marker="DATASETS",
    group="landmarkbench.datasets",
    base="landmarkbench.datasets.base:LandmarkDataset",
    required=("name", "version", "ndim", "landmark_names", "ground_truth_options"),
)
METHODS: Registry[type[Method]] = Registry(
    "method",
    packages=["landmarkbench.methods"],
    marker="METHODS",
    group="landmarkbench.methods",
    base="landmarkbench.methods.base:Method",
)
PROTOCOLS: Registry[Any] = Registry(
    "protocol",
    packages=["landmarkbench.protocols"],
    marker="PROTOCOLS",
)

REGISTRIES = {"datasets": DATASETS, "methods": METHODS, "protocols": PROTOCOLS}
