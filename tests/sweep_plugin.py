"""Methods for the sweep tests, loaded by workers as ``sweep_plugin:Class`` (tests/ on their
path): a mean shape whose process dies the first time it fits (a worker killed mid-cell)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from landmarkbench.methods.mean_shape import MeanShape


class DiesOnce(MeanShape):
    """The mean shape, except that the first fit ends its process abruptly (``os._exit``),
    leaving a marker file so that the retried attempt fits normally."""

    defaults: ClassVar[dict[str, Any]] = {"marker": ""}

    def fit(self, train, val, ctx) -> dict[str, Any]:
        marker = Path(self.config.marker)
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(3)
        return super().fit(train, val, ctx)
