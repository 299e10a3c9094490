"""Grids of cells on an executor (``landmarkbench sweep``).

``grid`` reads a grid file and expands it to cells (one experiment spec narrowed to one
method and seed each, keyed by its hash); ``driver`` plans every cell, prepares the shared
caches, split files and tracking store, dispatches the cells and records them; ``cell`` is
what runs a cell anywhere; ``local_executor``, ``ray_executor`` and ``slurm_executor`` run
cells in this process, as Ray tasks, or as submitit job arrays; ``progress`` is the
progress line.
"""
