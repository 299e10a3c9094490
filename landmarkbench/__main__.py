"""``python -m landmarkbench`` runs the command line."""

from landmarkbench.cli.main import entry_point

entry_point()
