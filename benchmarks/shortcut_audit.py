"""The shortcut audit's training-split part on real X-rays (no model needed): how much of NORMAL vs
PNEUMONIA each property that is not pneumonia predicts alone (ROC-AUC as max(auc, 1 - auc), with
its direction) and all of them together (cross-validated logistic regression).

Images are stored as the pipeline stores them (``preprocessing`` of conf/base: 148 px, stretched),
properties as the pipeline computes them (``evaluation/shortcuts.py``).

Run from the project root:  python benchmarks/shortcut_audit.py [--source ../shared/data/chest_xray_dev]
"""

import argparse
import time
from pathlib import Path

import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.evaluation.shortcuts import SHORTCUT_PROPERTIES, image_properties, label_predictability
from pediatric_pneumonia.imaging.preprocess import load_grayscale_image
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("../shared/data/chest_xray_dev"), help="public layout")
    parser.add_argument("--split", default="train")
    args = parser.parse_args()

    parameters = OmegaConfigLoader(conf_source="conf", env="base", **CONFIG_LOADER_ARGS)["parameters"]
    classes, shortcuts = parameters["raw_data"]["classes"], parameters["shortcuts"]
    paths, targets = [], []
    for target, label in enumerate(classes):
        found = sorted((args.source / args.split / label).glob("*.jpeg"))
        paths += found
        targets += [target] * len(found)
    images = np.stack([load_grayscale_image(str(path), parameters["preprocessing"]) for path in paths])
    started = time.perf_counter()
    properties = image_properties(images, parameters["explain"]["border_fraction"])
    measured = time.perf_counter() - started
    audit = label_predictability(properties, np.array(targets), shortcuts["cv_folds"], shortcuts["seed"])
    counts = np.bincount(targets)
    print(f"{len(paths)} {args.split} images ({counts[0]} {classes[0]}, {counts[1]} {classes[1]}) at "
          f"{images.shape[1]} px; properties in {measured:.1f} s")
    print(f"{'property':18s} {'ROC-AUC':>8s}  direction   median {classes[0]} / {classes[1]}")
    for name in SHORTCUT_PROPERTIES:
        medians = [properties[name][np.array(targets) == target].median() for target in (0, 1)]
        print(f"{name:18s} {audit[f'{name}.roc_auc']:8.3f}  {audit[f'{name}.direction']:18s} {medians[0]:.4g} / {medians[1]:.4g}")
    print(f"{'all together':18s} {audit['combined.roc_auc']:8.3f}  ({shortcuts['cv_folds']}-fold logistic regression)")


if __name__ == "__main__":
    main()
