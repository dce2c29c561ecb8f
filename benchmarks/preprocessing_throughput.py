"""Ingestion + preprocessing throughput against a naive OpenCV loop, and training throughput.

Makes full-size (about 1600x1300) grayscale JPEGs by upscaling real images of the shared
dataset, then in the same process times:

- naive: one thread, ``cv2.imread(path, IMREAD_GRAYSCALE)`` + ``cv2.resize`` per file;
- project: the ingestion and preprocessing node functions (manifest with hashing and checks,
  patient-disjoint split, reduced-size threaded decoding) with the configured parameters.

and prints images per second for both and their ratio (target: at least 4x). Then it trains
the default CNN for a few epochs on real images, fed plain arrays (the paper) and the default
augmented + normalised batches, and prints images per second per epoch and their ratio.

Run from the project root:  python benchmarks/preprocessing_throughput.py [--images 300]
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import keras
import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.imaging.preprocess import as_model_input
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.models.classifier_training import TrainingBatches
from pediatric_pneumonia.pipelines.ingestion.nodes import build_image_manifest
from pediatric_pneumonia.pipelines.preprocessing.nodes import assign_subsets, build_image_sets
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS

FULL_SIZE = (1600, 1300)  # width, height of a typical original Kermany et al. X-ray


def make_full_size_dataset(source_root: Path, target_root: Path, count: int, splits: list[str], classes: list[str]) -> list[Path]:
    """Upscale ``count`` real images (spread over splits and classes) to FULL_SIZE JPEGs."""
    per_folder = max(1, count // (len(splits) * len(classes)))
    written = []
    for split in splits:
        for label in classes:
            folder = target_root / split / label
            folder.mkdir(parents=True)
            for source in sorted((source_root / split / label).glob("*.jpeg"))[:per_folder]:
                image = cv2.imread(str(source), cv2.IMREAD_GRAYSCALE)
                large = cv2.resize(image, FULL_SIZE, interpolation=cv2.INTER_CUBIC)
                cv2.imwrite(str(folder / source.name), large, [cv2.IMWRITE_JPEG_QUALITY, 95])
                written.append(folder / source.name)
    return written


def naive_loop(paths: list[Path], image_size: int) -> np.ndarray:
    """The baseline: full decode then resize, one file at a time."""
    return np.stack(
        [
            cv2.resize(cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), (image_size, image_size), interpolation=cv2.INTER_AREA)
            for path in paths
        ]
    )


def project_chain(root: Path, parameters: dict) -> int:
    """Ingestion + preprocessing node functions on ``root``; returns the number of decoded images."""
    manifest = build_image_manifest({**parameters["raw_data"], "root": str(root)}, parameters["ingestion"])
    split = assign_subsets(manifest, parameters["split"])
    image_sets = build_image_sets(split, parameters["raw_data"]["classes"], parameters["preprocessing"])
    return sum(len(image_set["images"]) for image_set in image_sets)


def training_throughput(source_root: Path, parameters: dict, images: int, epochs: int) -> dict[str, list[float]]:
    """Images per second of each epoch of ``model.fit`` with the default model and batch size, fed
    (a) plain arrays as the paper does and (b) the default online augmentation + normalisation."""
    size = parameters["preprocessing"]["image_size"]
    paths = sorted((source_root / "train").rglob("*.jpeg"))[:images]
    stored = naive_loop(paths, size)
    labels = np.array([path.parent.name == parameters["raw_data"]["classes"][-1] for path in paths], dtype=np.uint8)
    training, intensity = parameters["training"], parameters["preprocessing"]["intensity"]
    feeds = {
        "plain arrays (paper)": (as_model_input(stored, {"method": "none"}), labels.astype(np.float32)),
        "augmented + normalised batches (default)": (
            TrainingBatches(
                {"images": stored, "labels": labels},
                training["batch_size"],
                len(stored),
                training["augmentation"],
                intensity,
                training["seed"],
            ),
            None,
        ),
    }
    rates: dict[str, list[float]] = {}
    for name, (inputs, targets) in feeds.items():
        keras.utils.set_random_seed(training["seed"])
        model = build_classifier((size, size, 1), training["architecture"])
        timer = EpochTimer(len(stored))
        batch_size = training["batch_size"] if targets is not None else None
        model.fit(inputs, targets, batch_size=batch_size, epochs=epochs, callbacks=[timer], verbose=0)
        rates[name] = timer.rates
    return rates


class EpochTimer(keras.callbacks.Callback):
    """Images per second of each epoch."""

    def __init__(self, images_per_epoch: int) -> None:
        super().__init__()
        self.images_per_epoch = images_per_epoch
        self.rates: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.rates.append(self.images_per_epoch / (time.perf_counter() - self.started))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=Path("../shared/data/chest_xray_dev"), help="real images in the public layout")
    parser.add_argument("--images", type=int, default=600, help="full-size JPEGs to generate (val has only 16)")
    parser.add_argument("--training-images", type=int, default=792, help="images per training epoch (6 batches of 132)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs to time (0: skip)")
    args = parser.parse_args()

    parameters = OmegaConfigLoader(conf_source="conf", env="base", **CONFIG_LOADER_ARGS)["parameters"]
    raw_data, image_size = parameters["raw_data"], parameters["preprocessing"]["image_size"]
    workdir = Path(tempfile.mkdtemp(prefix="pneumonia-benchmark-"))
    try:
        paths = make_full_size_dataset(args.source, workdir / "chest_xray", args.images, raw_data["splits"], raw_data["classes"])
        print(f"{len(paths)} JPEGs of {FULL_SIZE[0]}x{FULL_SIZE[1]} in {workdir}; target {image_size}x{image_size}")
        naive_loop(paths[:10], image_size)  # warm the page cache and OpenCV alike for both

        started = time.perf_counter()
        naive_loop(paths, image_size)
        naive_rate = len(paths) / (time.perf_counter() - started)

        started = time.perf_counter()
        decoded = project_chain(workdir / "chest_xray", parameters)
        project_rate = decoded / (time.perf_counter() - started)

        print(f"naive imread+resize, 1 thread:      {naive_rate:8.1f} images/s")
        print(
            f"ingestion + preprocessing ({parameters['preprocessing']['workers']} workers): "
            f"{project_rate:8.1f} images/s ({decoded} images)"
        )
        print(f"ratio project/naive: {project_rate / naive_rate:.2f}x (target >= 4x)")
    finally:
        shutil.rmtree(workdir)

    if args.epochs:
        rates = training_throughput(args.source, parameters, args.training_images, args.epochs)
        for name, per_epoch in rates.items():
            print(
                f"training, default model, batch {parameters['training']['batch_size']}, {name}: "
                f"{', '.join(f'{rate:.1f}' for rate in per_epoch)} images/s per epoch (the first includes tracing)"
            )
        plain, default = (rates[name][-1] for name in rates)
        print(f"ratio default feed / plain arrays (last epoch): {default / plain:.2f}x")


if __name__ == "__main__":
    main()
