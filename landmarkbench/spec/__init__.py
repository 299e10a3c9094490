"""The typed experiment spec and its YAML files (``experiment``, ``yaml_io``)."""

from landmarkbench.spec.experiment import (
    DEFAULT_FOLDS,
    DatasetSpec,
    EvaluationSpec,
    ExperimentSpec,
    MethodSpec,
    ProtocolSpec,
    TrackingSpec,
    UncertaintySpec,
)
from landmarkbench.spec.yaml_io import dump_yaml, load_experiment, spec_from_dict

__all__ = [
    "DEFAULT_FOLDS",
    "DatasetSpec",
    "EvaluationSpec",
    "ExperimentSpec",
    "MethodSpec",
    "ProtocolSpec",
    "TrackingSpec",
    "UncertaintySpec",
    "dump_yaml",
    "load_experiment",
    "spec_from_dict",
]
