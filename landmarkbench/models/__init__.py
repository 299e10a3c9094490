"""Network architectures for heatmap-regression landmark localization."""
