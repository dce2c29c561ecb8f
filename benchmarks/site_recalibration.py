"""How many labelled local images does recalibration need? A simulated new site.

The site is a labelled folder (``NORMAL/``, ``PNEUMONIA/``; e.g. a collection the model never saw,
or the dev data's ``test/`` slice), optionally under a stress shift of ``imaging/shifts.py`` at a
severity of ``stress.severities``. For each size n (25, 50, 100, 200) and each of R random draws,
whole patients are drawn until n images are labelled for recalibration; the temperature and the
threshold are refitted on them with ``recalibrate``'s own ``refit_operating_point`` under each
temperature policy of ``site.few_labels`` (refit, shrink toward the base, keep the base's:
threshold_only) and as before those policies existed (unguarded refit: the fitted temperature
whatever the labels, at its search bound on separated classes), and the rest of the site (patient-disjoint) is scored. Printed: the mean
sensitivity, specificity and negative log-likelihood (NLL: how honest the probabilities are) on
the rest, with the 2.5-97.5 percentiles over the draws, for no recalibration (the base package as
is), each policy, and (``--adapt-batchnorm``) AdaBN on the n images before refitting the threshold.

Run from the project root:
  python benchmarks/site_recalibration.py --model M --data DIR [--shift contrast --severity 2]
      [--sizes 25 50 100 200] [--repeats 20] [--method youden] [--adapt-batchnorm]
"""

import argparse
import time

import numpy as np

from pediatric_pneumonia.data_layout import labelled_files
from pediatric_pneumonia.evaluation.calibration import (
    apply_calibration,
    calibration_from_validation,
    negative_log_likelihood,
)
from pediatric_pneumonia.evaluation.metrics import core_metrics
from pediatric_pneumonia.evaluation.site import score_site
from pediatric_pneumonia.evaluation.thresholds import choose_threshold
from pediatric_pneumonia.imaging.shifts import apply_shift
from pediatric_pneumonia.inference import Predictor, load_predictor
from pediatric_pneumonia.inference.recalibration import adapted_batchnorm, refit_operating_point
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.project_config import load_project_config

# The temperature policies of site.few_labels: refit and threshold_only at every size, shrink as
# recalibrate applies it (below site.min_images, refit from there).
POLICIES = ("refit", "shrink", "threshold_only")


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


def operating_point(targets: np.ndarray, probabilities: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """Sensitivity, specificity and negative log-likelihood of ``probabilities`` at ``threshold``."""
    metrics = core_metrics(targets, probabilities, threshold)
    return metrics["sensitivity"], metrics["specificity"], negative_log_likelihood(targets, probabilities)


def summary(values: list[tuple[float, float]]) -> str:
    array = np.asarray(values)
    return "  ".join(
        f"{array[:, column].mean():.3f} ({np.percentile(array[:, column], 2.5):.3f}-{np.percentile(array[:, column], 97.5):.3f})".ljust(20)
        for column in range(3)
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
    calibration = check_parameters("calibration", parameters["calibration"])
    threshold = check_parameters("threshold", {**parameters["threshold"], **({"method": arguments.method} if arguments.method else {})})
    site = parameters["site"]
    shrink_weight = site["min_images"]
    settings = {
        policy: {
            "calibration": calibration,
            "threshold": threshold,
            # The shrinkage weighs the base temperature as site.min_images labels, as recalibrate does.
            "site": check_parameters("site", {**site, "min_images": 10**9 if policy != "shrink" else shrink_weight, "few_labels": policy}),
        }
        for policy in POLICIES
    }
    stress = check_parameters("stress", parameters["stress"]).model_dump()

    started = time.perf_counter()
    predictor = load_predictor(arguments.model)
    if len(predictor.classes) > 2:
        parser.error(
            f"--model has the classes {predictor.classes}: this benchmark measures a two-class model's "
            "recalibration (one probability, its threshold); give it a two-class package."
        )
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
    base_temperature = predictor.config["calibration"]["temperature"]
    print(
        f"Site: {arguments.data}, {len(targets)} images ({int(targets.sum())} {predictor.classes[-1]}), "
        f"{len(np.unique(patients))} patients, {description}; {len(scored.unreadable)} unreadable. "
        f"Base threshold {predictor.threshold:.3f}, temperature {base_temperature:.3f}; threshold method "
        f"{threshold.method}; {arguments.repeats} draws per size."
    )
    print("On the rest of the site: mean (2.5-97.5 percentiles over draws); 'limits' = draws where the fit kept the")
    print(f"base temperature (classes separated or temperature at its bound). shrink: toward the base with weight {shrink_weight}.")
    print(f"{'n':>5}  {'variant':<30}  {'sensitivity':<20}  {'specificity':<20}  {'NLL':<20}  limits")
    rng = np.random.default_rng(arguments.seed)
    for size in arguments.sizes:
        results: dict[str, list[tuple[float, float, float]]] = {"none": []}
        limited = dict.fromkeys(POLICIES, 0)
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
            # Before recalibrate knew its limits: the temperature fitted whatever the labels.
            fitted = calibration_from_validation(targets[chosen], raw[chosen], calibration)
            decision = choose_threshold(targets[chosen], apply_calibration(raw[chosen], fitted), threshold)
            results.setdefault("unguarded refit", []).append(
                operating_point(targets[rest], apply_calibration(raw[rest], fitted), decision["threshold"])
            )
            variants = [(policy, raw) for policy in POLICIES]
            if arguments.adapt_batchnorm:
                classifier, _ = adapted_batchnorm(predictor.classifier, predictor.model_input(images[chosen]), predictor.batch_size)
                adapted_raw = Predictor(classifier, predictor.config, predictor.name).raw_probabilities(images)
                variants.append(("threshold_only", adapted_raw))
            for policy, scores in variants:
                fitted, decision, limits = refit_operating_point(targets[chosen], scores[chosen], base_temperature, settings[policy])
                variant = policy if scores is raw else "adabn + threshold_only"
                results.setdefault(variant, []).append(
                    operating_point(targets[rest], apply_calibration(scores[rest], fitted), decision["threshold"])
                )
                if scores is raw:
                    limited[policy] += any("temperature" in limit for limit in limits)
        for variant, values in results.items():
            if values:
                print(f"{size:>5}  {variant:<30}  {summary(values)}  {limited.get(variant, '')}")
    print(f"Took {time.perf_counter() - started:.1f} s.")


if __name__ == "__main__":
    main()
