"""How many labelled local images does recalibration need? A simulated new site.

The site is a labelled folder (``NORMAL/``, ``PNEUMONIA/``; e.g. a collection the model never saw,
or the dev data's ``test/`` slice), optionally under a stress shift of ``imaging/shifts.py`` at a
severity of ``stress.severities``. For each size n (25, 50, 100, 200) and each of R random draws,
whole patients are drawn until n images are labelled for recalibration; the temperature and the
threshold are refitted on them with the training's functions (``recalibrate``'s own
``refit_operating_point``) and the rest of the site (patient-disjoint) is scored. Printed: the
mean sensitivity and specificity on the rest, with the 2.5-97.5 percentiles over the draws, for
no recalibration (the base package as is), recalibration, and (``--adapt-batchnorm``) AdaBN on the
n images before recalibrating.

Run from the project root:
  python benchmarks/site_recalibration.py --model M --data DIR [--shift contrast --severity 2]
      [--sizes 25 50 100 200] [--repeats 20] [--method youden] [--adapt-batchnorm]
"""

import argparse
import time

import numpy as np

from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.evaluation.calibration import apply_calibration
from pediatric_pneumonia.evaluation.metrics import core_metrics
from pediatric_pneumonia.evaluation.site import score_site
from pediatric_pneumonia.imaging.shifts import apply_shift
from pediatric_pneumonia.inference import Predictor, load_predictor
from pediatric_pneumonia.inference.recalibration import adapted_batchnorm, refit_operating_point
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.project_config import load_project_config


def draw_patients(patients: np.ndarray, targets: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """A mask of the images of randomly drawn whole patients, drawn until ``size`` images are taken;
    None when the draw lacks a class or leaves the rest without one (that draw is redrawn)."""
    chosen, taken = np.zeros(len(patients), dtype=bool), 0
    for patient in rng.permutation(np.unique(patients)):
        if taken >= size:
            break
        members = patients == patient
        chosen |= members
        taken += int(members.sum())
    if len(np.unique(targets[chosen])) < 2 or len(np.unique(targets[~chosen])) < 2:
        return None
    return chosen


def operating_point(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> tuple[float, float]:
    metrics = core_metrics(targets, probabilities, threshold)
    return metrics["sensitivity"], metrics["specificity"]


def summary(values: list[tuple[float, float]]) -> str:
    array = np.asarray(values)
    return "  ".join(
        f"{array[:, column].mean():.3f} ({np.percentile(array[:, column], 2.5):.3f}-{np.percentile(array[:, column], 97.5):.3f})"
        for column in range(2)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="package folder, MLflow URI or strategy name")
    parser.add_argument("--data", required=True, help="labelled folder (NORMAL/, PNEUMONIA/) or CSV of the simulated site")
    parser.add_argument("--shift", default=None, help="a stress shift applied to every site image (e.g. contrast)")
    parser.add_argument("--severity", type=int, default=2, help="its severity (1-based index into stress.severities)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--repeats", type=int, default=20, help="random draws per size")
    parser.add_argument("--method", default=None, help="threshold method (default: threshold.method)")
    parser.add_argument("--adapt-batchnorm", action="store_true", help="also measure AdaBN before recalibrating")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--env", default=None)
    arguments = parser.parse_args()

    parameters = load_project_config(".", "parameters", arguments.env)
    calibration = check_parameters("calibration", parameters["calibration"]).model_dump()
    threshold = check_parameters("threshold", {**parameters["threshold"], **({"method": arguments.method} if arguments.method else {})}).model_dump()
    stress = check_parameters("stress", parameters["stress"]).model_dump()

    started = time.perf_counter()
    predictor = load_predictor(arguments.model)
    scored = score_site(predictor, labelled_files(arguments.data, predictor.classes))
    images = scored.stored_images
    description = "no shift"
    if arguments.shift:
        magnitude = stress["severities"][arguments.shift][arguments.severity - 1]
        images = apply_shift(images, arguments.shift, magnitude, np.random.default_rng(arguments.seed))
        description = f"{arguments.shift} severity {arguments.severity} ({magnitude})"
    targets = scored.predictions["target"].to_numpy()
    patients = scored.predictions["patient_id"].to_numpy()
    raw = predictor.raw_probabilities(images)
    base_probabilities = predictor.calibrate(raw)
    print(
        f"Site: {arguments.data}, {len(targets)} images ({int(targets.sum())} {predictor.classes[-1]}), "
        f"{len(np.unique(patients))} patients, {description}; {len(scored.unreadable)} unreadable. "
        f"Base threshold {predictor.threshold:.3f}; threshold method {threshold['method']}; {arguments.repeats} draws per size."
    )
    print("Sensitivity and specificity on the rest of the site (mean, 2.5-97.5 percentiles over draws):")
    print(f"{'n':>5}  {'variant':<22}  {'sensitivity':<22}  specificity")
    rng = np.random.default_rng(arguments.seed)
    for size in arguments.sizes:
        results: dict[str, list[tuple[float, float]]] = {"none": [], "recalibrated": []}
        if arguments.adapt_batchnorm:
            results["adabn + recalibrated"] = []
        for _ in range(arguments.repeats):
            chosen = None
            for _attempt in range(100):
                chosen = draw_patients(patients, targets, size, rng)
                if chosen is not None:
                    break
            if chosen is None:
                print(f"{size:>5}  no draw of this size leaves both classes on both sides: skipped")
                break
            rest = ~chosen
            results["none"].append(operating_point(targets[rest], base_probabilities[rest], predictor.threshold))
            fitted, decision = refit_operating_point(targets[chosen], raw[chosen], calibration, threshold)
            results["recalibrated"].append(
                operating_point(targets[rest], apply_calibration(raw[rest], fitted), decision["threshold"])
            )
            if arguments.adapt_batchnorm:
                classifier, _ = adapted_batchnorm(predictor.classifier, predictor.model_input(images[chosen]), predictor.batch_size)
                adapted_raw = Predictor(classifier, predictor.config, predictor.name).raw_probabilities(images)
                fitted, decision = refit_operating_point(targets[chosen], adapted_raw[chosen], calibration, threshold)
                results["adabn + recalibrated"].append(
                    operating_point(targets[rest], apply_calibration(adapted_raw[rest], fitted), decision["threshold"])
                )
        for variant, values in results.items():
            if values:
                print(f"{size:>5}  {variant:<22}  {summary(values)}")
    print(f"Took {time.perf_counter() - started:.1f} s.")


if __name__ == "__main__":
    main()
