"""Render a schematic lateral cephalogram whose 19 ISBI landmarks sit on image features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# ISBI 2015 landmark order (0-based); the renderer builds every structure from these points.
SELLA, NASION, ORBITALE, PORION = 0, 1, 2, 3
A_POINT, B_POINT, POGONION, MENTON, GNATHION, GONION = 4, 5, 6, 7, 8, 9
LOWER_INCISOR_TIP, UPPER_INCISOR_TIP, UPPER_LIP, LOWER_LIP = 10, 11, 12, 13
SUBNASALE, SOFT_POGONION, PNS, ANS, ARTICULARE = 14, 15, 16, 17, 18
NUM_LANDMARKS = 19

# Additive attenuation of each tissue (an X-ray sums what the beam crosses).
AIR_LEVEL = 0.04
SOFT_TISSUE = 0.20
BRAIN = 0.06
CRANIAL_SHELL = 0.26
FACIAL_BONE = 0.17
PALATE = 0.14
MANDIBLE = 0.22
TOOTH = 0.24
THIN_CORTEX = 0.16


@dataclass(frozen=True)
class _Canvas:
    """Pixel grid plus the head's anatomical frame, for building structures in millimetres."""

    points: np.ndarray  # (H*W, 2) pixel centres in (row, col)
    shape: tuple[int, int]
    spacing_mm: float
    down: np.ndarray  # unit vector pointing to the feet, in (row, col)
    anterior: np.ndarray  # unit vector pointing to the face

    def at(self, base: np.ndarray, down_mm: float, anterior_mm: float) -> np.ndarray:
        """The point ``down_mm`` below and ``anterior_mm`` in front of ``base`` (pixels)."""
        offset = down_mm * self.down + anterior_mm * self.anterior
        return base + offset / self.spacing_mm

    def px(self, millimetres: float) -> float:
        """A length in millimetres as pixels."""
        return millimetres / self.spacing_mm


def _make_canvas(landmarks: np.ndarray, image_shape: tuple[int, int], spacing_mm: float) -> _Canvas:
    rows, cols = np.meshgrid(
        np.arange(image_shape[0], dtype=float),
        np.arange(image_shape[1], dtype=float),
        indexing="ij",
    )
    points = np.stack([rows.ravel(), cols.ravel()], axis=1)
    # The Frankfort horizontal (porion -> orbitale) defines "anterior" for the whole head.
    anterior = landmarks[ORBITALE] - landmarks[PORION]
    anterior = anterior / np.linalg.norm(anterior)
    down = np.array([anterior[1], -anterior[0]])
    return _Canvas(points, image_shape, spacing_mm, down, anterior)


def polygon_signed_distance(points: np.ndarray, vertices: np.ndarray, pad: float = 4.0):
    """Signed distance from points to a polygon (negative inside, even-odd rule).

    Exact within ``pad`` of the polygon's bounding box; farther points get ``pad`` (a lower
    bound), which is all that soft edges need and keeps small polygons cheap.

    Args:
        points: (N, 2) query points.
        vertices: (V, 2) polygon vertices in order.
        pad: Margin around the bounding box within which distances are exact.

    Returns:
        (N,) signed distances in the units of the inputs.
    """
    start = np.asarray(vertices, dtype=float)
    low, high = start.min(axis=0) - pad, start.max(axis=0) + pad
    near = np.all((points >= low) & (points <= high), axis=1)
    row, col = points[near, 0], points[near, 1]
    nearest_squared = np.full(row.shape, np.inf)
    inside = np.zeros(row.shape, dtype=bool)
    for (row_a, col_a), (row_b, col_b) in zip(start, np.roll(start, -1, axis=0), strict=True):
        edge_row, edge_col = row_b - row_a, col_b - col_a
        off_row, off_col = row - row_a, col - col_a
        length_squared = max(edge_row * edge_row + edge_col * edge_col, 1e-12)
        along = np.clip((off_row * edge_row + off_col * edge_col) / length_squared, 0.0, 1.0)
        squared = (off_row - along * edge_row) ** 2 + (off_col - along * edge_col) ** 2
        np.minimum(nearest_squared, squared, out=nearest_squared)
        if edge_row != 0:
            crosses = (row_a > row) != (row_b > row)
            crossing_col = col_a + off_row * (edge_col / edge_row)
            inside ^= crosses & (col < crossing_col)
    distance = np.full(points.shape[0], float(pad))
    distance[near] = np.where(inside, -1.0, 1.0) * np.sqrt(nearest_squared)
    return distance


def ellipse_signed_distance(
    canvas: _Canvas, centre: np.ndarray, down_mm: float, anterior_mm: float
) -> np.ndarray:
    """First-order signed distance (pixels) to an ellipse aligned with the head frame."""
    offset = canvas.points - centre
    u = offset @ canvas.down / canvas.px(down_mm)
    v = offset @ canvas.anterior / canvas.px(anterior_mm)
    level = np.sqrt(u * u + v * v)
    gradient = np.sqrt((u / canvas.px(down_mm)) ** 2 + (v / canvas.px(anterior_mm)) ** 2)
    near = level > 0.3
    safe_gradient = np.where(near, gradient, 1.0)
    deep = (level - 1) * canvas.px(min(down_mm, anterior_mm))
    return np.where(near, (level - 1) * level / safe_gradient, deep)


def half_plane_signed_distance(points: np.ndarray, through: np.ndarray, outward: np.ndarray):
    """Signed distance to the half-plane whose boundary passes ``through`` (outside = +normal)."""
    normal = outward / np.linalg.norm(outward)
    return (points - through) @ normal


def coverage(signed_distance: np.ndarray) -> np.ndarray:
    """Fraction of a pixel inside a shape: a one-pixel linear ramp across the edge."""
    return np.clip(0.5 - signed_distance, 0.0, 1.0)


def _dent(canvas: _Canvas, first: np.ndarray, second: np.ndarray, depth_mm: float) -> np.ndarray:
    """The midpoint of a profile chord pushed ``depth_mm`` posteriorly (a concavity)."""
    chord = second - first
    normal = np.array([chord[1], -chord[0]]) / max(np.linalg.norm(chord), 1e-9)
    if normal @ canvas.anterior > 0:
        normal = -normal
    return (first + second) / 2 + normal * canvas.px(depth_mm)


def _kite(canvas: _Canvas, tip: np.ndarray, apex: np.ndarray, half_width_mm: float) -> np.ndarray:
    """A tooth-like kite from a sharp ``tip`` to a rounded-off ``apex``."""
    axis = apex - tip
    side = np.array([axis[1], -axis[0]]) / max(np.linalg.norm(axis), 1e-9)
    widest = tip + 0.45 * axis
    width = canvas.px(half_width_mm)
    return np.stack([tip, widest + side * width, apex, widest - side * width])


def _cranium(canvas: _Canvas, lm: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Brain case: an ellipse through nasion above a cranial base that runs N - S - Ar."""
    centre = canvas.at(lm[SELLA], -32.0, -18.0)
    offset = lm[NASION] - centre
    down = (offset @ canvas.down) * canvas.spacing_mm
    ahead = (offset @ canvas.anterior) * canvas.spacing_mm
    height = 72.0
    length = abs(ahead) / np.sqrt(max(1 - (down / height) ** 2, 0.2))
    far = canvas.px(400.0)
    # Above this polyline is the brain case; its lower edge is the anterior cranial base
    # (nasion to below sella) and the clivus, which meets the ramus at articulare.
    brain_side = np.stack(
        [
            lm[NASION],
            canvas.at(lm[SELLA], 11.0, 3.0),
            lm[ARTICULARE],
            canvas.at(lm[ARTICULARE], 10.0, -30.0),
            canvas.at(lm[ARTICULARE], 40.0, -400.0),
            canvas.at(lm[NASION], -400.0, -400.0),
            canvas.at(lm[NASION], -400.0, 60.0),
            canvas.at(lm[NASION], 0.0, 60.0),
        ]
    )
    cut = polygon_signed_distance(canvas.points, brain_side, pad=far)
    outer = np.maximum(ellipse_signed_distance(canvas, centre, height, length), cut)
    inner = ellipse_signed_distance(canvas, centre, height - 7.0, length - 7.0)
    inner = np.maximum(inner, cut + canvas.px(3.5))
    shell = np.maximum(outer, -inner)
    return [(outer, BRAIN), (shell, CRANIAL_SHELL)]


def _midface(canvas: _Canvas, lm: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Nasal bone, maxilla outline, palate spindle, orbit rim and sella cup."""
    nasal_tip = canvas.at(lm[NASION], 19.0, 8.0)
    nasal_bone = np.stack([lm[NASION], nasal_tip, canvas.at(lm[NASION], 5.0, -2.5)])
    prosthion = canvas.at(lm[UPPER_INCISOR_TIP], -9.0, -2.5)
    alveolar_back = canvas.at(lm[PNS], 17.0, 12.0)
    maxilla = np.stack(
        [
            canvas.at(lm[NASION], 7.0, -4.0),
            canvas.at(lm[ANS], -13.0, -7.0),
            lm[ANS],
            lm[A_POINT],
            prosthion,
            alveolar_back,
            lm[PNS],
            canvas.at(lm[PNS], -20.0, 5.0),
            canvas.at(lm[ORBITALE], 4.0, -16.0),
        ]
    )
    middle = (lm[PNS] + lm[ANS]) / 2
    palate = np.stack([lm[PNS], canvas.at(middle, -2.5, 0.0), lm[ANS], canvas.at(middle, 3.0, 0.0)])
    orbit = ellipse_signed_distance(canvas, canvas.at(lm[ORBITALE], -16.0, 0.0), 16.0, 13.0)
    orbit_rim = np.abs(orbit + canvas.px(1.0)) - canvas.px(1.0)
    sella_ring = ellipse_signed_distance(canvas, lm[SELLA], 5.5, 5.5)
    sella_cup = np.maximum(
        np.abs(sella_ring - canvas.px(0.9)) - canvas.px(0.9),
        half_plane_signed_distance(canvas.points, canvas.at(lm[SELLA], -1.5, 0.0), -canvas.down),
    )
    points = canvas.points
    return [
        (polygon_signed_distance(points, nasal_bone), FACIAL_BONE),
        (polygon_signed_distance(points, maxilla), FACIAL_BONE),
        (polygon_signed_distance(points, palate), PALATE),
        (orbit_rim, THIN_CORTEX),
        (sella_cup, CRANIAL_SHELL),
    ]


def _mandible_and_teeth(canvas: _Canvas, lm: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Mandible outline, cranial base block at articulare, ear canal and the two incisors."""
    infradentale = canvas.at(lm[LOWER_INCISOR_TIP], 8.5, -2.0)
    alveolar_back = canvas.at(infradentale, -5.0, -30.0)
    mandible = np.stack(
        [
            canvas.at(lm[ARTICULARE], -6.0, 2.5),
            lm[ARTICULARE],
            lm[GONION],
            lm[MENTON],
            lm[GNATHION],
            lm[POGONION],
            _dent(canvas, lm[B_POINT], lm[POGONION], 0.8),
            lm[B_POINT],
            infradentale,
            alveolar_back,
            canvas.at(lm[ARTICULARE], 5.0, 22.0),
            canvas.at(lm[ARTICULARE], 9.0, 12.0),
        ]
    )
    cranial_base = ellipse_signed_distance(canvas, canvas.at(lm[ARTICULARE], -7.0, 0.0), 7.0, 12.0)
    ear_canal = ellipse_signed_distance(canvas, canvas.at(lm[PORION], 4.0, 0.0), 4.0, 4.0)
    ear_rim = np.abs(ear_canal - canvas.px(0.8)) - canvas.px(0.8)
    upper_incisor = _kite(canvas, lm[UPPER_INCISOR_TIP], canvas.at(lm[A_POINT], 3.0, -6.0), 3.8)
    lower_incisor = _kite(canvas, lm[LOWER_INCISOR_TIP], canvas.at(lm[B_POINT], 7.0, -7.0), 3.3)
    points = canvas.points
    return [
        (polygon_signed_distance(points, mandible), MANDIBLE),
        (cranial_base, THIN_CORTEX),
        (ear_canal, -0.16),
        (ear_rim, THIN_CORTEX),
        (polygon_signed_distance(points, upper_incisor), TOOTH),
        (polygon_signed_distance(points, lower_incisor), TOOTH),
    ]


def _soft_tissue(canvas: _Canvas, lm: np.ndarray) -> np.ndarray:
    """Signed distance to the head's soft tissue: a profile polygon closed far off-image."""
    height, width = canvas.shape
    stomion = _dent(canvas, lm[UPPER_LIP], lm[LOWER_LIP], 4.5)
    labiomental = _dent(canvas, lm[LOWER_LIP], lm[SOFT_POGONION], 4.0)
    soft_menton = canvas.at(lm[MENTON], 9.0, 3.0)
    throat = canvas.at(lm[GONION], 24.0, 28.0)
    profile = [
        canvas.at(lm[NASION], -90.0, 2.0),
        canvas.at(lm[NASION], -14.0, 8.0),
        canvas.at(lm[NASION], 1.0, 6.0),
        canvas.at(lm[SUBNASALE], -11.0, 15.0),
        canvas.at(lm[SUBNASALE], -2.0, 9.0),
        lm[SUBNASALE],
        lm[UPPER_LIP],
        stomion,
        lm[LOWER_LIP],
        labiomental,
        lm[SOFT_POGONION],
        soft_menton,
        throat,
        canvas.at(throat, 90.0, 0.0),
    ]
    far = 3.0 * (height + width)
    closing = [np.array([height + far, -far]), np.array([-far, -far])]
    return polygon_signed_distance(canvas.points, np.stack(profile + closing))


def _distractors(canvas: _Canvas, lm: np.ndarray, rng: np.random.Generator):
    """Cervical vertebrae, airway, molars and random blobs: structure that is not a landmark."""
    layers = []
    for level in range(4):
        centre = canvas.at(lm[GONION], -8.0 + 17.0 * level, -22.0 + 3.0 * level)
        body = np.stack(
            [
                canvas.at(centre, -6.5, -7.0),
                canvas.at(centre, -6.5, 7.0),
                canvas.at(centre, 6.5, 7.5),
                canvas.at(centre, 6.5, -6.5),
            ]
        )
        layers.append((polygon_signed_distance(canvas.points, body) - 1.0, 0.12))
    airway = np.stack(
        [
            canvas.at(lm[PNS], 2.0, -4.0),
            canvas.at(lm[PNS], 2.0, -11.0),
            canvas.at(lm[GONION], 40.0, 6.0),
            canvas.at(lm[GONION], 40.0, 14.0),
        ]
    )
    layers.append((polygon_signed_distance(canvas.points, airway), -0.07))
    for tooth in range(3):
        upper = canvas.at(lm[PNS], 13.0, 7.0 + 8.0 * tooth)
        lower = canvas.at(lm[UPPER_INCISOR_TIP], 3.0, -34.0 + 8.0 * tooth)
        for centre in (upper, lower):
            layers.append((ellipse_signed_distance(canvas, centre, 4.5, 3.6), 0.13))
    middle = lm.mean(axis=0)
    for _ in range(int(rng.integers(3, 7))):
        centre = middle + rng.normal(0.0, canvas.px(30.0), size=2)
        axes = rng.uniform(3.0, 12.0, size=2)
        layers.append((ellipse_signed_distance(canvas, centre, *axes), rng.uniform(-0.06, 0.08)))
    return layers


def _bias_field(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field (about +-15 %) from a few random low-frequency cosines."""
    rows = np.linspace(0.0, 1.0, shape[0])[:, None]
    cols = np.linspace(0.0, 1.0, shape[1])[None, :]
    field = np.ones(shape)
    for _ in range(3):
        freq_r, freq_c = rng.uniform(0.2, 1.2, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        amplitude = rng.uniform(0.02, 0.06)
        field += amplitude * np.cos(2 * np.pi * (freq_r * rows + freq_c * cols) + phase)
    return field


def render_cephalogram(
    landmarks: np.ndarray,
    image_shape: tuple[int, int],
    spacing_mm: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render a schematic lateral cephalogram (face toward +col) around 19 ISBI landmarks.

    Each landmark lies on a feature the structures create: a polygon corner (nasion, ANS,
    PNS, A and B points, incisor tips, pogonion, gnathion, menton, gonion, lips, subnasale,
    soft tissue pogonion), a curve extremum (orbitale at the bottom of the orbit rim, porion at
    the top of the ear canal), an edge junction (articulare, where the ramus crosses the
    cranial base) or a symmetry centre (sella, the centre of the sella cup).

    Args:
        landmarks: (19, 2) landmark positions in pixel (row, col) coordinates, ISBI order.
        image_shape: (rows, cols) of the image.
        spacing_mm: Isotropic pixel size in millimetres (anatomy is sized in millimetres).
        rng: Random generator for acquisition effects and distractors.

    Returns:
        float32 image of ``image_shape`` with values in [0, 1].
    """
    from scipy.ndimage import gaussian_filter

    lm = np.asarray(landmarks, dtype=float)
    canvas = _make_canvas(lm, image_shape, spacing_mm)
    layers = [(_soft_tissue(canvas, lm), SOFT_TISSUE)]
    layers += _cranium(canvas, lm) + _midface(canvas, lm) + _mandible_and_teeth(canvas, lm)
    layers += _distractors(canvas, lm, rng)
    flat = np.full(canvas.points.shape[0], AIR_LEVEL)
    for signed_distance, attenuation in layers:
        flat += attenuation * coverage(signed_distance)
    image = flat.reshape(image_shape)
    image = gaussian_filter(image, sigma=rng.uniform(0.5, 0.9))
    image = np.clip(image * _bias_field(image_shape, rng), 0.0, None)
    image = image ** rng.uniform(0.8, 1.25)
    image = image * rng.uniform(0.85, 1.15) + rng.uniform(-0.03, 0.03)
    image = image + rng.normal(0.0, rng.uniform(0.01, 0.03), size=image_shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)
