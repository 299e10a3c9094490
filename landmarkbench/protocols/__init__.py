"""Evaluation protocols: how case ids are split into folds (k-fold, official split)."""
