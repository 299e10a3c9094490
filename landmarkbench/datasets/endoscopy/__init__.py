"""Endoscopy multi-instance datasets.

EndoVis 2015 and AdaptOR sutures adapters, their shared point files and tree checks.
"""
