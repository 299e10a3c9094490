"""Schematic endoscopy frames: a variable number of instruments among specular distractors.

Each instrument is a thick shaft entering from the frame border and ending at a joint, from
which two thin jaws diverge; the joint and the two jaw tips (capsule apices) are the points.
Bright specular blobs on the tissue look like tips locally but belong to no instrument.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from landmarkbench.datasets.synthetic.shape_sdf import capsule_apex, capsule_sdf, grid_mm, soft_fill

CLASS_NAMES = ("joint", "tip")
INSTRUMENT_COUNT_PROBABILITIES = (0.1, 0.4, 0.35, 0.15)  # 0, 1, 2 or 3 instruments
MARGIN_PX = 4.0


def _instrument(rng: np.random.Generator, shape: Sequence[int]):
    """Capsules (start, end, radius, intensity) of one instrument, its joint and its tips."""
    rows, cols = shape
    joint = np.array([rng.uniform(0.25, 0.75) * rows, rng.uniform(0.25, 0.75) * cols])
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.sin(angle), np.cos(angle)])
    shaft_start = joint - direction * 2.0 * max(rows, cols)  # enters from outside the frame
    capsules = [(shaft_start, joint, rng.uniform(3.0, 4.5), rng.uniform(0.75, 0.9))]
    tips = []
    opening = rng.uniform(np.deg2rad(10), np.deg2rad(30))
    for side in (-1.0, 1.0):
        jaw_angle = angle + side * opening
        jaw_direction = np.array([np.sin(jaw_angle), np.cos(jaw_angle)])
        end = joint + jaw_direction * rng.uniform(9.0, 14.0)
        radius = rng.uniform(1.2, 1.8)
        capsules.append((joint, end, radius, rng.uniform(0.85, 1.0)))
        tips.append(capsule_apex(joint, end, radius))
    return capsules, joint, np.array(tips)


def _inside(points: np.ndarray, shape: Sequence[int]) -> bool:
    upper = np.asarray(shape, dtype=float) - 1 - MARGIN_PX
    return bool(np.all(points >= MARGIN_PX) and np.all(points <= upper))


def sample_scene(rng: np.random.Generator, shape: Sequence[int]):
    """Instruments (all points inside the frame) and distractor blobs of one frame."""
    count = int(rng.choice(len(INSTRUMENT_COUNT_PROBABILITIES), p=INSTRUMENT_COUNT_PROBABILITIES))
    capsules, joints, tips = [], [], []
    while len(joints) < count:
        parts, joint, jaw_tips = _instrument(rng, shape)
        if _inside(np.vstack([joint[None], jaw_tips]), shape):
            capsules += parts
            joints.append(joint)
            tips.extend(jaw_tips)
    blobs = [
        (np.array([rng.uniform(0, shape[0]), rng.uniform(0, shape[1])]), rng.uniform(1.2, 2.5))
        for _ in range(int(rng.integers(0, 6)))
    ]
    instances = (np.array(joints).reshape(-1, 2), np.array(tips).reshape(-1, 2))
    return capsules, blobs, instances


def render_frame(capsules, blobs, shape: Sequence[int], rng: np.random.Generator) -> np.ndarray:
    """Grey-level frame in [0, 1]: textured tissue, instruments, specular blobs, noise."""
    from scipy import ndimage

    points = grid_mm(shape, (1.0, 1.0))
    tissue = ndimage.gaussian_filter(rng.normal(size=tuple(shape)), sigma=6.0)
    frame = 0.35 + 0.08 * tissue / (np.abs(tissue).max() + 1e-9)
    for start, end, radius, intensity in capsules:
        occupancy = soft_fill(capsule_sdf(points, start, end, radius), 1.0)
        frame = frame * (1 - occupancy) + intensity * occupancy
    for centre, radius in blobs:
        distance = np.linalg.norm(points - centre, axis=-1) - radius
        frame = np.maximum(frame, 0.95 * soft_fill(distance, 1.0))
    frame = ndimage.gaussian_filter(frame, sigma=0.7) + rng.normal(0.0, 0.03, size=frame.shape)
    return frame.astype(np.float32)
