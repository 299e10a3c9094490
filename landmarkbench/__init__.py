"""landmarkbench: benchmark suite for anatomical landmark localization."""

from __future__ import annotations

__version__ = "0.1.0"
