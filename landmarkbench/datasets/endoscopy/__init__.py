"""Endoscopy multi-instance datasets.

endovis2015 and adaptor_sutures (the datasets), layout (release paths and label parsers),
points (their shared base class and point helpers), tree (checks and fixtures).
"""
