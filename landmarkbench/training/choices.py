"""The names the training code implements, for the settings that choose among them.

Owned here, beside the code that builds networks (``networks``), objectives
(``objectives``) and learning-rate schedules (``loop``); the heatmap methods' declared
settings read them (``methods.heatmap_method``). Importing this module imports no torch.
"""

from __future__ import annotations

NETWORKS = ("unet", "scn")
TARGETS = ("gaussian", "adaptive_gaussian", "onehot", "coordinates")
LR_SCHEDULES = ("plateau", "cosine")
