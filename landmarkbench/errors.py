"""The exceptions landmarkbench raises for problems a user can fix.

Every message is one sentence that states the rule, the offending value and the fix.
The CLI maps ``UsageError`` to exit code 2 and every other ``LandmarkBenchError`` to 1.
"""

from __future__ import annotations


class LandmarkBenchError(Exception):
    """Base class: a problem the user can act on (exit code 1 in the CLI)."""

    exit_code = 1


class UsageError(LandmarkBenchError):
    """The command line or a configuration value is wrong (exit code 2)."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A registry lookup failed: the name is not registered."""


class ConfigError(UsageError):
    """A configuration override has an unknown key or a value of the wrong type."""


class DataError(LandmarkBenchError):
    """A dataset file is missing, unreadable or inconsistent."""


class ManifestError(DataError):
    """A dataset manifest does not follow its schema."""


class ChecksumError(DataError):
    """A file's sha256 does not match the expected value."""


class SplitError(LandmarkBenchError):
    """A split is inconsistent: overlap between train and test, or unknown case ids."""


class ResultsError(LandmarkBenchError):
    """Stored results are missing, incomplete or inconsistent with the request."""


class TrainingError(LandmarkBenchError):
    """Training a fold failed (for example the loss diverged)."""
