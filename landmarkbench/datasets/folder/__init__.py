"""A dataset from a plain folder: your images plus one CSV (or JSON) of landmarks.

adapter (the dataset ``folder``), layout (the file format, its parser and the one place
where x, y, z become array indices), tree (the checks ``validate`` and ``run`` share, and
the fixture writer).
"""
