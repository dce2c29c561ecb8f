"""Search throughput: trials per hour of the sequential and the Ray backend on this machine.

Both backends run the same trials (``--trials`` configurations drawn from the paper's grid, one
epoch of ``--images`` augmented 148x148 images each, scored on ``--validation`` images) with the
project's training, preprocessing and search parameters; the Ray backend on a local instance of
all cores, one core per trial. Pixels are synthetic: cost depends on the image size, not content.
Prints trials per hour for both and their ratio, then estimates the configured full grid's time
from the measured images per second, per number of 2-core workers, with and without ASHA.

Run from the project root:  python benchmarks/search_throughput.py [--trials 4] [--images 264]
"""

import argparse
import copy
import os
import tempfile
import time

import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.search import expand_space, search_ray, search_sequential, trial_settings
from pediatric_pneumonia.search.space import sample_trials


def image_set(count: int, side: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "images": rng.integers(0, 256, size=(count, side, side), dtype=np.uint8),
        "labels": np.arange(count) % 2,
        "paths": np.array([f"synthetic_{index}" for index in range(count)]),
    }


def asha_epoch_share(epochs: int, grace_period: int, reduction_factor: int) -> float:
    """Expected share of the grid's epochs that ASHA runs: every trial reaches the first rung, a
    1/reduction_factor of them each next rung (synchronous approximation)."""
    rungs = [grace_period]
    while rungs[-1] * reduction_factor < epochs:
        rungs.append(rungs[-1] * reduction_factor)
    rungs.append(epochs)
    run, survivors, previous = 0.0, 1.0, 0
    for rung in rungs:
        run += survivors * (rung - previous)
        survivors /= reduction_factor
        previous = rung
    return run / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--images", type=int, default=264)
    parser.add_argument("--validation", type=int, default=66)
    # The full grid is scored on the real validation split: 15% of the public train split's 5,216.
    parser.add_argument("--grid-validation", type=int, default=782)
    args = parser.parse_args()
    os.environ.pop("RAY_ADDRESS", None)

    params = OmegaConfigLoader("conf", base_env="base", default_run_env="base")["parameters"]
    search, training, preprocessing = params["search"], params["training"], params["preprocessing"]
    side = preprocessing["image_size"]
    grid = expand_space(search, training["architecture"])
    architectures = sample_trials(grid, args.trials, search["seed"])
    bench = {**copy.deepcopy(search), "epochs": 1, "images_per_epoch": args.images}
    settings = trial_settings(bench, training, preprocessing)
    train_set, validation_set = image_set(args.images, side, 0), image_set(args.validation, side, 1)
    cores = os.cpu_count()
    print(f"{len(architectures)} trials, 1 epoch of {args.images} {side}x{side} images + {args.validation} validation, "
          f"{cores} cores")

    rates = {}
    with tempfile.TemporaryDirectory() as storage:
        bench["storage_path"] = storage
        bench["ray"] = {**bench["ray"], "num_cpus": cores, "cpus_per_trial": 1}
        for name, backend in (("sequential", search_sequential), ("ray", search_ray)):
            started = time.perf_counter()
            rows = backend(architectures, train_set, validation_set, settings, bench, None)
            elapsed = time.perf_counter() - started
            failed = [row["trial"] for row in rows if row["status"] == "error"]
            rates[name] = len(rows) * 3600 / elapsed
            print(f"{name:>10}: {elapsed:6.1f} s, {rates[name]:6.1f} trials/hour" + (f" (failed: {failed})" if failed else ""))
    print(f"ray / sequential: {rates['ray'] / rates['sequential']:.2f}x")

    images_per_second = rates["sequential"] / 3600 * (args.images + args.validation)
    per_trial_images = search["epochs"] * (search["images_per_epoch"] + args.grid_validation)
    asha = search["ray"]["asha"]
    share = asha_epoch_share(search["epochs"], asha["grace_period"], asha["reduction_factor"])
    full_hours = len(grid) * per_trial_images / images_per_second / 3600
    print(
        f"Full grid: {len(grid)} trials x {search['epochs']} epochs x ({search['images_per_epoch']} + "
        f"{args.grid_validation} validation) images at {images_per_second:.1f} images/s (sequential, this machine):"
    )
    for workers in (1, 2, 4, 8, 16):
        print(f"  {workers:>2} workers of {cores} cores: {full_hours / workers:6.1f} h, with ASHA "
              f"(~{share:.0%} of the epochs) {full_hours * share / workers:6.1f} h")


if __name__ == "__main__":
    main()
