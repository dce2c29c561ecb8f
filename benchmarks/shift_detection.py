"""Dataset-shift detection, measured: how often ``check-shift`` raises a false alarm, and whether
it stays quiet on images of the training collection and speaks on shifted ones.

For a predictor package with a shift reference (format 2) and the dev data's root:

- false alarms: the MMD test and the prevalence test on random halves of the package's own
  validation reference (``--halves`` splits; the rate should be near alpha);
- the dev data's ``test/`` slice (images of the training collection the model never saw) against
  the reference: should be quiet;
- the same images under every stress-report shift (``imaging/shifts.py``, the magnitudes of
  ``stress.severities`` in conf/) at severity 1, 2, 3: should speak at the higher severities.

Prints one table: the MMD p-value and effect size, the predicted prevalence here and on
validation with its p-value, the share of images over the OOD cut-off, and the verdict.

Run from the project root:
  python benchmarks/shift_detection.py --model combined --data /path/to/chest_xray [--max-images 400]
"""

import argparse
import time
from pathlib import Path

import numpy as np

from pediatric_pneumonia.console import quiet_tensorflow
from pediatric_pneumonia.evaluation.shift import mmd_test, prevalence_test
from pediatric_pneumonia.imaging.decode import ImageDecodeError
from pediatric_pneumonia.imaging.shifts import apply_shift
from pediatric_pneumonia.inference import Predictor
from pediatric_pneumonia.project_config import load_project_config


def false_alarm_rates(predictor: Predictor, halves: int, seed: int) -> tuple[float, float]:
    """The share of random halves of the reference on which the MMD and the prevalence tests fire."""
    settings = predictor.shift_settings
    features, probabilities = predictor.shift_reference["features"], predictor.shift_reference["probabilities"]
    rng = np.random.default_rng(seed)
    mmd_fired = prevalence_fired = 0
    for split in range(halves):
        order = rng.permutation(len(features))
        first, second = np.array_split(order, 2)
        mmd_fired += mmd_test(features[first], features[second], settings["permutations"], seed + split)["p_value"] < settings["alpha"]
        prevalence = prevalence_test(probabilities[first], probabilities[second], predictor.threshold)
        prevalence_fired += prevalence["p_value"] < settings["alpha"]
    return mmd_fired / halves, prevalence_fired / halves


def test_slice(predictor: Predictor, data: Path, max_images: int, seed: int) -> np.ndarray:
    """A seeded sample of at most ``max_images`` readable images of ``data/test``, as stored."""
    files = sorted(path for path in (data / "test").rglob("*") if path.is_file() and not path.name.startswith("."))
    rng = np.random.default_rng(seed)
    chosen = [files[index] for index in np.sort(rng.choice(len(files), min(max_images, len(files)), replace=False))]
    images = []
    for path in chosen:
        try:
            images.append(predictor.stored_image(path, str(path)))
        except ImageDecodeError as error:
            print(f"skipped {error}")
    return np.stack(images)


def row(condition: str, report: dict) -> str:
    mmd, prevalence, ood = report["mmd"], report["prevalence"], report["out_of_distribution"]
    return (
        f"| {condition} | {report['images']} | {mmd['p_value']:.3f} | {mmd['effect_size']:.3f} | "
        f"{prevalence['predicted_prevalence']:.2f} / {prevalence['reference_predicted_prevalence']:.2f} ({prevalence['p_value']:.3f}) | "
        f"{ood['share_over_cutoff']:.2f} | {'SHIFT' if report['shifted'] else 'quiet'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="A predictor package folder, a strategy name or an MLflow URI.")
    parser.add_argument("--data", required=True, type=Path, help="The dev data's root (train/, val/, test/).")
    parser.add_argument("--max-images", type=int, default=400, help="Images of test/ checked per condition.")
    parser.add_argument("--halves", type=int, default=50, help="Random halves of the reference for the false-alarm rate.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default=None, help="Kedro environment whose stress.severities to use.")
    arguments = parser.parse_args()
    quiet_tensorflow()
    predictor = Predictor.load(arguments.model)
    settings = predictor.shift_settings
    started = time.perf_counter()
    mmd_rate, prevalence_rate = false_alarm_rates(predictor, arguments.halves, arguments.seed)
    count = len(predictor.shift_reference["features"])
    print(f"Model {predictor.name}: reference of {count} validation images; alpha {settings['alpha']}, "
          f"{settings['permutations']} permutations, OOD cut-off {settings['warning_percentile']}.")
    print(f"False-alarm rate on {arguments.halves} random halves of the reference ({count // 2} vs {count - count // 2}): "
          f"MMD {mmd_rate:.3f}, prevalence {prevalence_rate:.3f} (alpha {settings['alpha']}).\n")
    images = test_slice(predictor, arguments.data, arguments.max_images, arguments.seed)
    print("| condition | images | MMD p | MMD effect | predicted prevalence here / validation (p) | share over OOD cut-off | verdict |")
    print("|---|---|---|---|---|---|---|")
    print(row("test/ slice, unshifted", predictor.check_shift(images)))
    severities = load_project_config(".", "parameters", arguments.env)["stress"]["severities"]
    for shift_index, (shift, magnitudes) in enumerate(severities.items()):
        for severity, magnitude in enumerate(magnitudes, start=1):
            rng = np.random.default_rng([arguments.seed, shift_index, severity])
            shifted = apply_shift(images, shift, magnitude, rng)
            print(row(f"{shift} {magnitude:g} (severity {severity})", predictor.check_shift(shifted)), flush=True)
    print(f"\nTook {time.perf_counter() - started:.0f} s.")


if __name__ == "__main__":
    main()
