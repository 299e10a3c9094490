"""A schematic mandibular dentition in a CT-like volume, with 14 molar/cuspid landmarks.

Axes (array-index order): d0 runs superior -> inferior, d1 anterior -> posterior, d2 right
-> left. Each landmark is an extremum of a solid: a molar crown's occlusal top, the apex of
each of its two roots, a cuspid's cusp tip. Premolars and incisors are rendered too, as
look-alike distractors without landmarks. A missing third molar is not rendered and its
three landmarks are NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from landmarkbench.datasets.synthetic.shape_sdf import (
    capsule_apex,
    capsule_sdf,
    ellipsoid_sdf,
    grid_mm,
    soft_fill,
)

SIDES = ("right", "left")
MOLAR_LANDMARKS = tuple(
    f"{side}_{tooth}_{part}"
    for side in SIDES
    for tooth in ("m2", "m3")
    for part in ("crown", "mesial_root", "distal_root")
)
LANDMARK_NAMES = (*MOLAR_LANDMARKS, "right_cuspid_cusp", "left_cuspid_cusp")
FIELD_OF_VIEW_MM = (48.0, 64.0, 64.0)
ARCH_CENTRE_MM = np.array([10.0, 30.0, 32.0])
# Canonical (d1, d2 / side) positions of tooth centres relative to the arch centre, in mm.
TOOTH_POSITIONS = {"cuspid": (-13.0, 10.0), "premolar1": (-7.0, 14.5), "premolar2": (-1.0, 17.0),
                   "m2": (6.0, 19.5), "m3": (14.0, 21.0), "incisor1": (-17.0, 3.0),
                   "incisor2": (-16.0, 6.5)}  # fmt: skip


@dataclass(frozen=True)
class Solid:
    """One primitive: 'ellipsoid' (a=centre, b=radii) or 'capsule' (a->b, radius)."""

    kind: str
    a: np.ndarray
    b: np.ndarray
    radius: float
    intensity: float


def _rotation_d0(angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, cos, -sin], [0.0, sin, cos]])


def _molar(centre: np.ndarray, root_length: float, spread: float, rng: np.random.Generator):
    """Solids of a two-rooted molar and its three landmarks (crown top, root apices)."""
    crown_radii = np.array([3.0, 4.2, 3.8]) * rng.uniform(0.92, 1.08, 3)
    crown_centre = centre + np.array([crown_radii[0], 0.0, 0.0])
    solids = [Solid("ellipsoid", crown_centre, crown_radii, 0.0, 1.0)]
    landmarks = [centre.copy()]  # the occlusal top of the crown ellipsoid
    for mesial_sign in (-1.0, 1.0):
        start = centre + np.array([crown_radii[0] * 1.6, mesial_sign * 1.8, 0.0])
        end = start + np.array([root_length, mesial_sign * spread, rng.uniform(-0.8, 0.8)])
        radius = 1.1
        solids.append(Solid("capsule", start, end, radius, 0.8))
        landmarks.append(capsule_apex(start, end, radius))
    return solids, landmarks


def _single_rooted(centre: np.ndarray, height: float, radius: float, rng: np.random.Generator):
    """A cone-like tooth (cuspid/premolar/incisor): returns solids and its cusp tip."""
    tip_start = centre + np.array([4.0, 0.0, 0.0])
    tip_end = centre + np.array([rng.uniform(0.3, 0.8), 0.0, 0.0])
    root_end = tip_start + np.array([height, rng.uniform(-1, 1), rng.uniform(-0.5, 0.5)])
    solids = [
        Solid("capsule", tip_start, tip_end, radius, 1.0),
        Solid("capsule", tip_start, root_end, radius * 0.7, 0.8),
    ]
    return solids, capsule_apex(tip_start, tip_end, radius)


def sample_dentition(rng: np.random.Generator, missing_m3_probability: float = 0.2):
    """Solids and the (14, 3) landmark positions (mm, NaN if missing) of one jaw."""
    scale = rng.uniform(0.92, 1.08)
    rotation = _rotation_d0(np.deg2rad(rng.uniform(-12, 12)))
    shift = np.array([rng.uniform(-2, 2), rng.uniform(-4, 4), rng.uniform(-4, 4)])

    def place(d1: float, d2: float) -> np.ndarray:
        local = np.array([rng.uniform(-0.6, 0.6), d1 + rng.uniform(-1, 1), d2 + rng.uniform(-1, 1)])
        return ARCH_CENTRE_MM + shift + scale * (rotation @ local)

    solids: list[Solid] = []
    landmarks = np.full((len(LANDMARK_NAMES), 3), np.nan)
    for side_index, sign in enumerate((1.0, -1.0)):
        for tooth_index, tooth in enumerate(("m2", "m3")):
            if tooth == "m3" and rng.random() < missing_m3_probability:
                continue
            d1, d2 = TOOTH_POSITIONS[tooth]
            parts, points = _molar(
                place(d1, sign * d2), rng.uniform(10, 14), rng.uniform(0.5, 2.0), rng
            )
            solids += parts
            start = 6 * side_index + 3 * tooth_index
            landmarks[start : start + 3] = points
        for tooth in ("cuspid", "premolar1", "premolar2", "incisor1", "incisor2"):
            d1, d2 = TOOTH_POSITIONS[tooth]
            radius = 1.9 if tooth == "cuspid" else 1.6
            parts, tip = _single_rooted(place(d1, sign * d2), rng.uniform(11, 15), radius, rng)
            solids += parts
            if tooth == "cuspid":
                landmarks[12 + side_index] = tip
    body_path = (TOOTH_POSITIONS["cuspid"], TOOTH_POSITIONS["m2"], (24.0, 22.0))
    below = np.array([17.0, 0, 0])
    arch = [place(d1, sign * d2) + below for sign in (1.0, -1.0) for d1, d2 in body_path]
    for start, end in zip(arch[:2] + arch[3:5], arch[1:3] + arch[4:6], strict=True):
        solids.append(Solid("capsule", start, end, 5.5, 0.45))
    solids.append(Solid("capsule", arch[0], arch[3], 5.5, 0.45))
    return solids, landmarks


def _bounding_window(
    solid: Solid, spacing: Sequence[float], shape: Sequence[int], margin: float
) -> tuple[slice, ...]:
    if solid.kind == "ellipsoid":
        low, high = solid.a - solid.b, solid.a + solid.b
    else:
        low = np.minimum(solid.a, solid.b) - solid.radius
        high = np.maximum(solid.a, solid.b) + solid.radius
    spacing_array = np.asarray(spacing)
    start = np.clip(np.floor((low - margin) / spacing_array), 0, shape).astype(int)
    stop = np.clip(np.ceil((high + margin) / spacing_array) + 1, 0, shape).astype(int)
    return tuple(slice(a, b) for a, b in zip(start, stop, strict=True))


def render_volume(
    solids: Sequence[Solid],
    shape: Sequence[int],
    spacing: Sequence[float],
    rng: np.random.Generator,
) -> np.ndarray:
    """CT-like float32 volume in [0, 1]: soft tissue, bone, enamel, blur and noise."""
    from scipy import ndimage

    points = grid_mm(shape, spacing)
    volume = np.full(tuple(shape), 0.15, dtype=np.float64)
    edge = 0.8 * min(spacing)
    for solid in solids:
        # Evaluate each solid only inside its bounding box (plus the soft edge).
        window = _bounding_window(solid, spacing, shape, margin=2 * edge)
        local = points[window]
        if solid.kind == "ellipsoid":
            distance = ellipsoid_sdf(local, solid.a, solid.b)
        else:
            distance = capsule_sdf(local, solid.a, solid.b, solid.radius)
        volume[window] = np.maximum(volume[window], solid.intensity * soft_fill(distance, edge))
    volume = ndimage.gaussian_filter(volume, sigma=0.6)
    volume = volume * rng.uniform(0.8, 1.2) + rng.uniform(-0.05, 0.05)
    volume += rng.normal(0.0, 0.04, size=volume.shape)
    return volume.astype(np.float32)
