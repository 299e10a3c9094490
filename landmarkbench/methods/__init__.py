"""Landmark localization methods: recipes that fit on training cases and predict points."""
