"""The three registries (datasets, methods, protocols) and the modules that fill them.

Adding a dataset, method or protocol: define it in its own module with the registry's
``register`` decorator and add that module to the provider list below. Provider modules
must not import torch, monai or mlflow at module level (``landmarkbench ls`` stays fast).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from landmarkbench.registry import Registry

if TYPE_CHECKING:
    from landmarkbench.datasets.base import LandmarkDataset
    from landmarkbench.methods.base import Method

DATASETS: Registry[type[LandmarkDataset]] = Registry(
    "dataset",
    providers=[
        "landmarkbench.datasets.synthetic.ceph",
        "landmarkbench.datasets.synthetic.ct",
        "landmarkbench.datasets.synthetic.endo",
        "landmarkbench.datasets.synthetic.teeth",
        "landmarkbench.datasets.isbi2015.adapter",
        "landmarkbench.datasets.oai_pelvis.adapter",
        "landmarkbench.datasets.mml.adapter",
        "landmarkbench.datasets.endoscopy.endovis2015",
        "landmarkbench.datasets.endoscopy.adaptor_sutures",
    ],
)
METHODS: Registry[type[Method]] = Registry(
    "method",
    providers=[
        "landmarkbench.methods.mean_shape",
        "landmarkbench.methods.unet_heatmap",
        "landmarkbench.methods.indirect",
        "landmarkbench.methods.scn",
        "landmarkbench.methods.one_hot",
    ],
)
PROTOCOLS: Registry[Any] = Registry(
    "protocol",
    providers=[
        "landmarkbench.protocols.kfold",
        "landmarkbench.protocols.official",
        "landmarkbench.protocols.published_folds",
    ],
)

REGISTRIES = {"datasets": DATASETS, "methods": METHODS, "protocols": PROTOCOLS}
