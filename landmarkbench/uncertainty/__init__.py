"""Uncertainty quantification: conformal prediction regions for heatmap methods."""
