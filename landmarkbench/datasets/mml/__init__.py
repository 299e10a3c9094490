"""MML mandibular molars (3D CT): adapter and tree (checks and fixture)."""
