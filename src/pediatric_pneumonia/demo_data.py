"""Deterministic synthetic chest-radiograph-like images in the public Kaggle folder layout.

They let a fresh clone run every pipeline in minutes without the real data. They are not
X-rays: a torso, two lung fields, ribs, spine and heart drawn with OpenCV, plus opacities in the
lungs for the PNEUMONIA class: large dense patches for the files named bacterial, many small faint
spots for the viral ones. Scores on them say nothing about medicine.
"""

from pathlib import Path

import cv2
import numpy as np

from .naming import subtype_from_path

MARKER_FILE = "SYNTHETIC_DEMO_DATA.txt"
MARKER_TEXT = (
    "Synthetic images made by `pediatric-pneumonia demo-data` for demonstrations and tests.\n"
    "They are drawings, not chest X-rays: never use them to judge a model.\n"
)


def opacity_pattern(
    rng: np.random.Generator,
    size: int,
    lungs: np.ndarray,
    lung_centres: list[tuple[int, int]],
    lung_axes: tuple[int, int],
    subtype: str,
) -> np.ndarray:
    """The added brightness of pneumonia inside ``lungs``: for ``bacteria`` a few large dense patches
    (lobar consolidation), for ``virus`` many small faint spots over both lungs (an interstitial
    pattern), so the subtype task has something to learn on demo data too."""
    opacities = np.zeros(lungs.shape, dtype=np.float32)
    spots, radii, blur, strength = ((2, 6), (0.04, 0.09), 0.03, 90) if subtype == "bacteria" else ((12, 20), (0.02, 0.035), 0.008, 70)
    for _ in range(rng.integers(*spots)):
        x, y = lung_centres[rng.integers(0, 2)]
        spot = (int(x + rng.normal(0, lung_axes[0] * 0.5)), int(y + rng.normal(0, lung_axes[1] * 0.5)))
        cv2.circle(opacities, spot, int(size * rng.uniform(*radii)), 1.0, -1)
    return strength * cv2.GaussianBlur(opacities, (0, 0), size * blur) * lungs


def draw_radiograph(rng: np.random.Generator, size: int, opacities: str | None) -> np.ndarray:
    """Draw one grayscale chest-radiograph-like image of ``size`` x ``size`` pixels, with the
    ``opacities`` of a pneumonia subtype (``bacteria`` or ``virus``) or none."""
    image = np.full((size, size), 20, dtype=np.float32)
    centre_x = size / 2 + rng.normal(0, size * 0.02)
    torso_axes = (int(size * rng.uniform(0.38, 0.44)), int(size * rng.uniform(0.45, 0.5)))
    cv2.ellipse(image, (int(centre_x), int(size * 0.55)), torso_axes, 0, 0, 360, 150, -1)

    lung_axes = (int(size * rng.uniform(0.13, 0.16)), int(size * rng.uniform(0.27, 0.31)))
    lung_centres = [(int(centre_x + side * size * 0.18), int(size * 0.5)) for side in (-1, 1)]
    lungs = np.zeros_like(image)
    for centre in lung_centres:
        cv2.ellipse(lungs, centre, lung_axes, rng.uniform(-6, 6), 0, 360, 1.0, -1)
    image -= 95 * lungs

    for rib in range(8):
        y = int(size * (0.28 + 0.065 * rib))
        cv2.ellipse(image, (int(centre_x), y), (int(size * 0.33), int(size * 0.05)), 0, 200, 340, 175, 2)
    spine_half_width = max(2, size // 40)
    image[:, int(centre_x) - spine_half_width : int(centre_x) + spine_half_width] += 45
    heart_centre = (int(centre_x + size * 0.05), int(size * 0.62))
    cv2.ellipse(image, heart_centre, (int(size * 0.11), int(size * 0.13)), 20, 0, 360, 160, -1)

    if opacities is not None:
        image += opacity_pattern(rng, size, lungs, lung_centres, lung_axes, opacities)

    image = cv2.GaussianBlur(image, (0, 0), size * 0.006)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def demo_file_names(label: str, split: str, count: int, first_patient: int) -> list[tuple[str, int]]:
    """Public-style file names for ``count`` images, one or two per patient.

    Returns ``(name, patient number)`` pairs; patient numbers start at ``first_patient``.
    """
    names = []
    patient = first_patient
    while len(names) < count:
        for image_index in range(1, 3 if patient % 3 == 0 else 2):
            if len(names) == count:
                break
            if label == "NORMAL":
                names.append((f"IM-{patient:04d}-{image_index:04d}.jpeg", patient))
            else:
                kind = "virus" if patient % 2 else "bacteria"
                names.append((f"person{patient}_{kind}_{image_index}.jpeg", patient))
        patient += 1
    return names


def generate_demo_dataset(root: str | Path, demo_data: dict, classes: list[str]) -> dict[str, int]:
    """Write the synthetic dataset under ``root`` and return the number of images per split.

    ``demo_data`` holds ``seed``, ``image_size`` and ``counts`` (split -> class -> count).
    Patients never repeat across splits. The last class of ``classes`` gets the opacities.
    """
    root = Path(root)
    rng = np.random.default_rng(demo_data["seed"])
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER_FILE).write_text(MARKER_TEXT)
    written = {}
    next_patient = 1
    for split, counts in demo_data["counts"].items():
        written[split] = 0
        for label in classes:
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            names = demo_file_names(label, split, counts[label], next_patient)
            next_patient = names[-1][1] + 1 if names else next_patient
            for name, _ in names:
                subtype = subtype_from_path(name) if label == classes[-1] else None
                image = draw_radiograph(rng, demo_data["image_size"], opacities=subtype)
                cv2.imwrite(str(folder / name), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
            written[split] += len(names)
    return written
