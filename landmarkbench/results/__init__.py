"""Results on disk and in MLflow.

Layout (paths <-> identities), prediction records, fold and run summaries, the one reader of
stored runs, and the one tracking module.
"""
