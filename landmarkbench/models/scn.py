"""Spatial Configuration Net (Payer et al., MedIA 54:207-219, 2019) for 2D and 3D heatmaps.

The predicted heatmaps are the product ``h = h_LA * h_SC`` of two branches:

- local appearance (LA): a stem conv to ``filters`` channels, then a U-Net-like net with
  ``levels`` levels and ``filters`` filters at every level (two 3x3 convs per level with dropout
  between, 2x2 average pooling down, linear upsampling up, skips combined by addition, LeakyReLU,
  no normalisation), then a 3x3 conv to C channels initialised with std 1e-4;
- spatial configuration (SC): average pooling of ``h_LA`` by ``sc_downsample``, ``sc_layers``
  ``sc_kernel``-sized convs with ``sc_filters`` filters, one conv to C channels (init std 1e-4),
  tanh, upsampling back to the input size.

Parameters (2D, k = sc_kernel, F = filters, G = sc_filters, L = levels, n = sc_layers):
``(9 in F + F) + 2 L (9 F^2 + F) + (9 F C + C)`` for LA plus
``(k^2 C G + G) + (n - 1)(k^2 G^2 + G) + (k^2 G C + C)`` for SC (3D: 27 and k^3).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

HEAD_INIT_STD = 1e-4
DEFAULT_SC_KERNEL = {2: 11, 3: 7}
DEFAULT_UPSAMPLE_MODE = {2: "bicubic", 3: "trilinear"}
_LINEAR_MODE = {2: "bilinear", 3: "trilinear"}
_UPSAMPLE_MODES = {2: ("nearest", "bilinear", "bicubic"), 3: ("nearest", "trilinear")}
_CONV = {2: nn.Conv2d, 3: nn.Conv3d}
_AVG_POOL = {2: F.avg_pool2d, 3: F.avg_pool3d}
_CHANNELS_LAST = {2: torch.channels_last, 3: torch.channels_last_3d}


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    """Count the parameters of a module.

    Args:
        module: Any ``nn.Module``.
        trainable_only: Count only parameters with ``requires_grad``.

    Returns:
        The total number of scalar parameters.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _hidden_conv(
    spatial_dims: int, in_ch: int, out_ch: int, kernel: int, slope: float
) -> nn.Module:
    """A 'same'-padded conv with He initialisation for the LeakyReLU that follows it."""
    conv = _CONV[spatial_dims](in_ch, out_ch, kernel, padding=kernel // 2)
    nn.init.kaiming_normal_(conv.weight, a=slope, nonlinearity="leaky_relu")
    nn.init.zeros_(conv.bias)
    return conv


def _heatmap_conv(spatial_dims: int, in_ch: int, out_ch: int, kernel: int) -> nn.Module:
    """A 'same'-padded conv whose tiny initial weights start the heatmaps near zero."""
    conv = _CONV[spatial_dims](in_ch, out_ch, kernel, padding=kernel // 2)
    nn.init.normal_(conv.weight, std=HEAD_INIT_STD)
    nn.init.zeros_(conv.bias)
    return conv


def _conv_act(
    spatial_dims: int, in_ch: int, out_ch: int, kernel: int, slope: float
) -> list[nn.Module]:
    # In-place activation: the conv's backward does not need its output, so no copy is kept.
    return [
        _hidden_conv(spatial_dims, in_ch, out_ch, kernel, slope),
        nn.LeakyReLU(slope, inplace=True),
    ]


class LocalAppearance(nn.Module):
    """U-Net-like local appearance branch with additive skips and no normalisation."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        filters: int,
        levels: int,
        dropout: float,
        slope: float,
    ) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.stem = nn.Sequential(*_conv_act(spatial_dims, in_channels, filters, 3, slope))
        self.levels = nn.ModuleList(
            nn.Sequential(
                *_conv_act(spatial_dims, filters, filters, 3, slope),
                nn.Dropout(dropout),
                *_conv_act(spatial_dims, filters, filters, 3, slope),
            )
            for _ in range(levels)
        )
        self.head = _heatmap_conv(spatial_dims, filters, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the local appearance heatmaps ``h_LA`` at the input resolution."""
        pool = _AVG_POOL[self.spatial_dims]
        x = self.stem(x)
        skips = []
        for block in self.levels[:-1]:
            x = block(x)
            skips.append(x)
            x = pool(x, 2)
        x = self.levels[-1](x)
        for skip in reversed(skips):
            x = F.interpolate(
                x, scale_factor=2, mode=_LINEAR_MODE[self.spatial_dims], align_corners=False
            )
            # In place on the fresh upsampled tensor: neither backward needs it.
            x = x.add_(skip)
        return self.head(x)


class SpatialConfiguration(nn.Module):
    """Coarse branch that scores where each landmark may lie given all the others."""

    def __init__(
        self,
        spatial_dims: int,
        channels: int,
        filters: int,
        layers: int,
        kernel: int,
        downsample: int,
        slope: float,
        upsample_mode: str,
    ) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.downsample = downsample
        self.upsample_mode = upsample_mode
        hidden = []
        width = channels
        for _ in range(layers):
            hidden += _conv_act(spatial_dims, width, filters, kernel, slope)
            width = filters
        self.hidden = nn.Sequential(*hidden)
        self.head = _heatmap_conv(spatial_dims, width, channels, kernel)

    def forward(self, h_la: torch.Tensor) -> torch.Tensor:
        """Return ``h_SC`` in about [-1, 1] at the resolution of ``h_la``."""
        x = _AVG_POOL[self.spatial_dims](h_la, self.downsample)
        x = torch.tanh(self.head(self.hidden(x)))
        align = None if self.upsample_mode == "nearest" else False
        return F.interpolate(x, size=h_la.shape[2:], mode=self.upsample_mode, align_corners=align)


class SpatialConfigurationNet(nn.Module):
    """Spatial Configuration Net: heatmaps as local appearance times spatial configuration.

    Args:
        spatial_dims: 2 or 3.
        in_channels: Image channels.
        out_channels: Number of landmarks C (one heatmap each).
        filters: Filters of every local appearance conv.
        levels: Resolution levels of the local appearance U-Net.
        dropout: Dropout probability between the two convs of each level.
        sc_kernel: Kernel size of the spatial configuration convs (odd); None gives 11 in 2D
            and 7 in 3D.
        sc_downsample: Average-pooling factor before the spatial configuration convs.
        sc_filters: Filters of the hidden spatial configuration convs.
        sc_layers: Hidden spatial configuration convs (a final conv to C channels follows).
        leaky_slope: Negative slope of every LeakyReLU.
        upsample_mode: How ``h_SC`` returns to the input size; None gives "bicubic" in 2D and
            "trilinear" in 3D (PyTorch has no tricubic).
        channels_last: Keep weights and activations channels-last (faster oneDNN convs on CPU).

    Raises:
        ValueError: If an argument is out of range.
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        filters: int = 128,
        levels: int = 4,
        dropout: float = 0.5,
        sc_kernel: int | None = None,
        sc_downsample: int = 16,
        sc_filters: int = 128,
        sc_layers: int = 3,
        leaky_slope: float = 0.1,
        upsample_mode: str | None = None,
        channels_last: bool = True,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}.")
        sc_kernel = DEFAULT_SC_KERNEL[spatial_dims] if sc_kernel is None else sc_kernel
        upsample_mode = upsample_mode or DEFAULT_UPSAMPLE_MODE[spatial_dims]
        _check_arguments(spatial_dims, levels, dropout, sc_kernel, sc_downsample, upsample_mode)
        self.spatial_dims = spatial_dims
        self.size_multiple = math.lcm(sc_downsample, 2 ** (levels - 1))
        self.memory_format = _CHANNELS_LAST[spatial_dims] if channels_last else None
        self.local_appearance = LocalAppearance(
            spatial_dims, in_channels, out_channels, filters, levels, dropout, leaky_slope
        )
        self.spatial_configuration = SpatialConfiguration(
            spatial_dims,
            out_channels,
            sc_filters,
            sc_layers,
            sc_kernel,
            sc_downsample,
            leaky_slope,
            upsample_mode,
        )
        if self.memory_format is not None:
            self.to(memory_format=self.memory_format)

    def forward(
        self, x: torch.Tensor, return_parts: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Predict heatmaps.

        Args:
            x: Images of shape (B, in_channels, *spatial), every spatial size a multiple of
                ``size_multiple``.
            return_parts: Also return the two factors.

        Returns:
            ``h`` of shape (B, C, *spatial), or ``(h, h_LA, h_SC)`` with ``return_parts``.

        Raises:
            ValueError: If the input rank or spatial size does not fit the network.
        """
        self._check_input(x)
        if self.memory_format is not None:
            x = x.contiguous(memory_format=self.memory_format)
        h_la = self.local_appearance(x)
        h_sc = self.spatial_configuration(h_la)
        h = h_la * h_sc
        return (h, h_la, h_sc) if return_parts else h

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != self.spatial_dims + 2:
            raise ValueError(
                f"SpatialConfigurationNet({self.spatial_dims}D) expects input of shape "
                f"(B, C, {', '.join('DHW'[-self.spatial_dims :])}), got {tuple(x.shape)}; "
                "add the missing batch or channel axis."
            )
        spatial = tuple(x.shape[2:])
        m = self.size_multiple
        if any(size % m for size in spatial):
            padded = tuple(-(-size // m) * m for size in spatial)
            raise ValueError(
                f"SpatialConfigurationNet needs every spatial size to be a multiple of {m} "
                f"(sc_downsample and 2**(levels-1)), got input shape {tuple(x.shape)}; pad or "
                f"resize the spatial shape {spatial} to {padded}."
            )


def _check_arguments(
    spatial_dims: int,
    levels: int,
    dropout: float,
    sc_kernel: int,
    sc_downsample: int,
    upsample_mode: str,
) -> None:
    if levels < 1:
        raise ValueError(f"levels must be at least 1, got {levels}.")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}.")
    if sc_kernel < 1 or sc_kernel % 2 == 0:
        raise ValueError(
            f"sc_kernel must be a positive odd size for 'same' padding, got {sc_kernel}."
        )
    if sc_downsample < 1:
        raise ValueError(f"sc_downsample must be at least 1, got {sc_downsample}.")
    if upsample_mode not in _UPSAMPLE_MODES[spatial_dims]:
        raise ValueError(
            f"upsample_mode {upsample_mode!r} is not available in {spatial_dims}D; "
            f"use one of {', '.join(_UPSAMPLE_MODES[spatial_dims])}."
        )
