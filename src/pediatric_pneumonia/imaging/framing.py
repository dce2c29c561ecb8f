"""Framing normalisation: find the lung fields of a frontal chest X-ray with classical image
processing (intensity projections; no learned weights) and crop every image to the same framing
around them, so that how tightly a film was collimated (the neck, the abdomen, the arms in view)
stops telling the model anything.

On a smoothed, equalised copy the mean over the middle rows of each column is a profile with a
bright peak at the spine and a dark valley over each lung; each lung's outer edge is where the
profile, going outward from its valley, climbs half way back to the spine's level (the chest
wall). Over the columns between those edges, the mean of each row is dark over the lungs and
climbs at the clavicles and at the diaphragm: the top and bottom edges, by the same half-way rule.
An edge that is never reached is the image's own edge (a tightly framed film). A box too small to
hold two lung fields is a failed detection: the image keeps its whole frame (``FramedImage.found``
is False), so a failure never crops into the chest. A box around everything bright (an Otsu
threshold of the whole film) would follow the body, the arms and the collimator instead.
"""

from dataclasses import dataclass

import cv2
import numpy as np

# Detection runs on a copy whose longer side is this many pixels, smoothed so that the ribs merge
# into the lung fields.
WORKING_SIDE = 256
SMOOTHING_SIGMA = 3.0
# The spine is looked for in this band of columns, each lung's valley between the image's outer
# 5% and the spine +- SPINE_HALF_WIDTH; the column profile is the mean over the middle rows.
SPINE_BAND = (0.35, 0.65)
SPINE_HALF_WIDTH = 0.05
OUTER_BAND = 0.05
PROFILE_ROWS = (0.25, 0.75)
# The lungs' lowest row is looked for in this band of rows (below the neck, above the abdomen).
VALLEY_ROWS = (0.1, 0.8)
# An edge is where the profile climbs this share of the way from the valley back to the bright level.
EDGE_LEVEL = 0.5
# The row profile's bright level: this percentile of the row means (the abdomen, the neck).
BRIGHT_PERCENTILE = 90
# A box narrower or lower than these shares of the image is not a pair of lung fields.
MIN_BOX_SPAN = (0.4, 0.3)


@dataclass(frozen=True)
class FramedImage:
    """A framed image and whether its lung fields were found (False: the whole frame was kept)."""

    image: np.ndarray
    found: bool


def _edge(profile: np.ndarray, start: int, step: int, level: float) -> int | None:
    """The first index from ``start`` in direction ``step`` where ``profile`` reaches ``level``."""
    index = start
    while 0 <= index < len(profile):
        if profile[index] >= level:
            return index
        index += step
    return None


def lung_field_box(image: np.ndarray) -> tuple[int, int, int, int] | None:
    """The box ``(top, bottom, left, right)`` (pixels of ``image``, bottom and right exclusive)
    around the lung fields of a 2-D uint8 frontal chest X-ray, or None when none is found."""
    height, width = image.shape
    scale = WORKING_SIDE / max(height, width)
    small = cv2.resize(image, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    smooth = cv2.GaussianBlur(cv2.equalizeHist(small), (0, 0), sigmaX=SMOOTHING_SIGMA).astype(np.float32)
    rows, columns = smooth.shape
    if min(rows, columns) < 20:
        return None

    column_profile = smooth[int(PROFILE_ROWS[0] * rows) : int(PROFILE_ROWS[1] * rows)].mean(axis=0)
    band_start, band_stop = int(SPINE_BAND[0] * columns), int(SPINE_BAND[1] * columns)
    spine = band_start + int(np.argmax(column_profile[band_start:band_stop]))
    gap, outer = int(SPINE_HALF_WIDTH * columns), int(OUTER_BAND * columns)
    left_valley = outer + int(np.argmin(column_profile[outer : spine - gap]))
    right_valley = spine + gap + int(np.argmin(column_profile[spine + gap : columns - outer]))
    spine_level = column_profile[spine]

    def lateral_edge(valley: int, step: int) -> int | None:
        level = column_profile[valley] + EDGE_LEVEL * (spine_level - column_profile[valley])
        return _edge(column_profile, valley, step, level)

    left = lateral_edge(left_valley, -1) or 0
    right_edge = lateral_edge(right_valley, 1)
    right = columns if right_edge is None else right_edge + 1

    lung_columns = np.r_[left : max(left + 1, spine - gap), spine + gap : max(spine + gap + 1, right)]
    row_profile = smooth[:, lung_columns].mean(axis=1)
    valley_start, valley_stop = int(VALLEY_ROWS[0] * rows), int(VALLEY_ROWS[1] * rows)
    valley = valley_start + int(np.argmin(row_profile[valley_start:valley_stop]))
    level = row_profile[valley] + EDGE_LEVEL * (np.percentile(row_profile, BRIGHT_PERCENTILE) - row_profile[valley])
    top = _edge(row_profile, valley, -1, level) or 0
    bottom_edge = _edge(row_profile, valley, 1, level)
    bottom = rows if bottom_edge is None else bottom_edge + 1

    if right - left < MIN_BOX_SPAN[0] * columns or bottom - top < MIN_BOX_SPAN[1] * rows:
        return None
    return (
        int(top / scale),
        min(height, int(np.ceil(bottom / scale))),
        int(left / scale),
        min(width, int(np.ceil(right / scale))),
    )


def frame_lung_fields(image: np.ndarray, margin: float) -> FramedImage:
    """Crop a 2-D uint8 chest X-ray to its lung-field box widened by ``margin`` x the box's height
    and width on each side, as far as the image reaches; the whole image when none is found."""
    box = lung_field_box(image)
    if box is None:
        return FramedImage(image, found=False)
    top, bottom, left, right = box
    height, width = image.shape
    pad_y, pad_x = round(margin * (bottom - top)), round(margin * (right - left))
    return FramedImage(
        image[max(0, top - pad_y) : min(height, bottom + pad_y), max(0, left - pad_x) : min(width, right + pad_x)],
        found=True,
    )
