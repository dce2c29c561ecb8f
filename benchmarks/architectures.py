"""Cost of every architecture family (``training.architecture.family``) at 148 and 224 px.

Per family and image size: trainable + non-trainable parameters; forward FLOPs per image, counted
by TensorFlow's profiler on the frozen graph of the inference function (a multiply-add counts as
2 FLOPs); training images per second, timed over ``--steps`` ``train_on_batch`` steps of batch
``--batch`` on random pixels after ``--warmup`` untimed steps (the online augmentation, which costs
the same for every family, is left out); and the epoch time of ``--epoch-images`` images (the
default ``training.images_per_epoch``) extrapolated from it, with both ratios to ``paper`` at the
same size. The architecture is ``training.architecture`` from conf/base with only ``family`` changed.

Run from the project root:  python benchmarks/architectures.py [--families paper residual] [--sizes 148 224]
"""

import argparse
import time

import keras
import numpy as np
import tensorflow as tf
from kedro.config import OmegaConfigLoader
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2_as_graph

from pediatric_pneumonia.choices import ARCHITECTURE_FAMILIES
from pediatric_pneumonia.models.classifier import build_classifier
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS


def forward_flops(model: keras.Model, size: int) -> int:
    """FLOPs of one image's forward pass, from the profiler on the frozen inference graph."""
    function = tf.function(lambda images: model(images, training=False))
    concrete = function.get_concrete_function(tf.TensorSpec((1, size, size, 1), tf.float32))
    _, graph_def = convert_variables_to_constants_v2_as_graph(concrete)
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        options["output"] = "none"
        profile = tf.compat.v1.profiler.profile(graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=options)
    return profile.total_float_ops


def training_images_per_second(model: keras.Model, size: int, batch: int, warmup: int, steps: int) -> float:
    """Images per second of ``train_on_batch`` on random 0-255 pixels after ``warmup`` steps."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, size, size, 1)).astype(np.float32)
    labels = (np.arange(batch) % 2).astype(np.float32)
    for _ in range(warmup):
        model.train_on_batch(images, labels)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(images, labels)
    return batch * steps / (time.perf_counter() - start)


def measure(architecture: dict, family: str, size: int, arguments: argparse.Namespace) -> dict:
    keras.utils.set_random_seed(0)
    model = build_classifier((size, size, 1), {**architecture, "family": family})
    speed = training_images_per_second(model, size, arguments.batch, arguments.warmup, arguments.steps)
    return {
        "family": family,
        "size": size,
        "parameters": model.count_params(),
        "gflops": forward_flops(model, size) / 1e9,
        "images_per_s": speed,
        "epoch_s": arguments.epoch_images / speed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(ARCHITECTURE_FAMILIES), choices=list(ARCHITECTURE_FAMILIES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[148, 224])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--epoch-images", type=int, default=4400)
    arguments = parser.parse_args()
    architecture = OmegaConfigLoader("conf", **CONFIG_LOADER_ARGS)["parameters"]["training"]["architecture"]
    families = ["paper", *[family for family in arguments.families if family != "paper"]]
    rows = [measure(architecture, family, size, arguments) for size in arguments.sizes for family in families]
    paper = {row["size"]: row for row in rows if row["family"] == "paper"}
    print(
        f"\n| family | px | parameters | forward GFLOPs / image | training images/s (batch {arguments.batch}) "
        f"| epoch of {arguments.epoch_images:,} images | epoch time vs paper |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        ratio = row["epoch_s"] / paper[row["size"]]["epoch_s"]
        print(
            f"| {row['family']} | {row['size']} | {row['parameters'] / 1e6:.2f} M | {row['gflops']:.3f} "
            f"| {row['images_per_s']:.1f} | {row['epoch_s'] / 60:.1f} min | {ratio:.2f}x |"
        )


if __name__ == "__main__":
    main()
