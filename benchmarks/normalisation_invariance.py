"""How much of each acquisition shift survives each intensity normalisation (no training needed).

For real X-rays of the shared dataset, every shift of the stress report is applied at one
severity; the image and its shifted copy are both normalised with each
``preprocessing.intensity.method``, and the mean absolute pixel difference between the two is
printed (0 = the normalisation removes the shift entirely), with its ratio to ``none``
(no normalisation) in the same run. A good normalisation drives the photometric shifts
(brightness, contrast, gamma) towards 0 without amplifying the others (noise, blur).

Run from the project root:  python benchmarks/normalisation_invariance.py [--images 200 --severity 2]
"""

import argparse
from pathlib import Path

import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.imaging.preprocess import INTENSITY_METHODS, load_grayscale_image, normalise_intensity
from pediatric_pneumonia.imaging.shifts import SHIFTS
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS


def sample_images(source: Path, count: int, preprocessing: dict) -> list[np.ndarray]:
    """``count`` stored images (decoded, made square) drawn evenly from train/NORMAL and train/PNEUMONIA."""
    paths = []
    for label in ("NORMAL", "PNEUMONIA"):
        folder = sorted((source / "train" / label).glob("*.jpeg"))
        paths += folder[:: max(1, len(folder) // (count // 2))][: count // 2]
    return [load_grayscale_image(str(path), preprocessing) for path in paths]


def surviving_change(images: list[np.ndarray], shift: str, magnitude: float, intensity: dict) -> float:
    """Mean |normalised(shifted) - normalised(original)| over ``images``, in 0-255 grey levels."""
    rng = np.random.default_rng(0)
    return float(
        np.mean(
            [
                np.abs(
                    normalise_intensity(SHIFTS[shift](image, magnitude, rng), intensity).astype(float)
                    - normalise_intensity(image, intensity).astype(float)
                ).mean()
                for image in images
            ]
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("../shared/data/chest_xray_dev"), help="public layout")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--severity", type=int, default=2, help="stress-report severity of each shift (1-3)")
    args = parser.parse_args()

    parameters = OmegaConfigLoader(conf_source="conf", env="base", **CONFIG_LOADER_ARGS)["parameters"]
    preprocessing, severities = parameters["preprocessing"], parameters["stress"]["severities"]
    images = sample_images(args.source, args.images, preprocessing)
    print(f"{len(images)} images, shifts at severity {args.severity}; mean |change| after normalisation (ratio to none)")
    print(f"{'shift':12s}" + "".join(f"{method:>28s}" for method in INTENSITY_METHODS))
    for shift, magnitudes in severities.items():
        magnitude = magnitudes[args.severity - 1]
        changes = {
            method: surviving_change(images, shift, magnitude, {**preprocessing["intensity"], "method": method})
            for method in INTENSITY_METHODS
        }
        cells = "".join(f"{changes[method]:18.2f} ({changes[method] / changes['none']:5.2f}x)" for method in changes)
        print(f"{shift:12s}{cells}")


if __name__ == "__main__":
    main()
