"""OAI pelvis X-rays.

adapter (the dataset), layout (release paths and parsers), tree (checks and fixture).
"""
