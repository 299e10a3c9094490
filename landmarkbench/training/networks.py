"""Network factories of heatmap methods: a MONAI U-Net or the Spatial Configuration Net."""

from __future__ import annotations

from torch import nn

from landmarkbench.config import Settings
from landmarkbench.errors import ConfigError
from landmarkbench.training.choices import NETWORKS


def build_network(config: Settings, out_channels: int, ndim: int) -> nn.Module:
    """The network named by ``config.network`` with C output maps.

    Raises:
        ConfigError: for an unknown network name.
    """
    kind = config.get("network", "unet")
    if kind == "unet":
        from monai.networks.nets import UNet

        channels = tuple(config.channels)
        return UNet(
            spatial_dims=ndim,
            in_channels=1,
            out_channels=out_channels,
            channels=channels,
            strides=(2,) * (len(channels) - 1),
            num_res_units=config.num_res_units,
        )
    if kind == "scn":
        from landmarkbench.models.scn import SpatialConfigurationNet

        return SpatialConfigurationNet(
            spatial_dims=ndim,
            in_channels=1,
            out_channels=out_channels,
            filters=config.scn_filters,
            levels=config.scn_levels,
            dropout=config.scn_dropout,
            sc_downsample=config.scn_downsample,
            sc_filters=config.scn_filters,
            sc_kernel=config.scn_kernel or None,
        )
    raise ConfigError(f"Setting network={kind!r} is unknown; use one of {', '.join(NETWORKS)}.")


class TrainableHeatmapModel(nn.Module):
    """The network plus the objective, so learnable targets are optimised with the weights."""

    def __init__(self, network: nn.Module, objective: nn.Module) -> None:
        super().__init__()
        self.network = network
        self.objective = objective

    def forward(self, images):
        return self.network(images)
