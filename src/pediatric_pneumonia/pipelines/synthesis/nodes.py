"""DCGAN synthesis of images of every class smaller than the largest (NORMAL on the two-class task),
one DCGAN per class, trained on training images only.

The model and its training loop live in ``models.dcgan`` and ``models.dcgan_training``; these
nodes choose the profile, pick the classes and name the images.
"""

import logging
from functools import partial
from pathlib import Path

import keras
import mlflow
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ...class_balance import synthesised_labels, synthetic_images_made
from ...imaging.grids import image_grid
from ...models.dcgan_training import generate_images, select_class_images, train_dcgan
from ...models.gan_profiles import select_gan_profile
from ...naming import synthetic_image_path
from ...parameters import Synthesis

logger = logging.getLogger(__name__)


def log_progress_to_mlflow(class_name: str, losses: dict[str, float], iteration: int, samples: np.ndarray) -> None:
    """Losses at ``iteration`` and a grid of samples of the ``class_name`` DCGAN, into the active
    MLflow run if any (``synthesis.train.<class>.<loss>``, images ``synthesis_samples_<class>``).

    Logged from inside the node on purpose: a per-iteration series is what MLflow's charts show,
    and the catalog only sees the finished history.
    """
    if mlflow.active_run() is None:
        return
    key = class_name.lower()
    mlflow.log_metrics({f"synthesis.train.{key}.{name}": value for name, value in losses.items()}, step=iteration)
    mlflow.log_image(image_grid(samples), key=f"synthesis_samples_{key}", step=iteration)


def train_gan(
    train_set: dict, classes: list[str], synthesis: Synthesis
) -> tuple[dict[str, keras.Model], dict[str, dict[str, list[float]]]]:
    """Train one DCGAN of ``synthesis.profile`` per class smaller than the largest, on that class's
    training images only (NORMAL on the two-class task; NORMAL and VIRUS on the three-class one).

    Checkpoints go to ``synthesis.checkpoint_dir/<profile>/<class>``, so a rerun with the same
    settings resumes and another profile's checkpoint is left alone; losses and sample grids go to
    MLflow. Returns the published generator and the loss history of each class, by class name.
    """
    profile = select_gan_profile(synthesis)
    class_counts = np.bincount(train_set["labels"], minlength=len(classes))
    generators, histories = {}, {}
    for label in synthesised_labels(class_counts):
        name = classes[label]
        real = select_class_images(train_set, classes, name, profile["image_size"])
        checkpoint_folder = Path(synthesis.checkpoint_dir) / synthesis.profile / name
        logger.info("Training the %s DCGAN on %d training images.", name, len(real))
        generators[name], histories[name] = train_dcgan(
            real, profile, synthesis.seed, checkpoint_folder, partial(log_progress_to_mlflow, name)
        )
    return generators, histories


def generate_synthetic_images(
    generators: dict[str, keras.Model], train_set: dict, classes: list[str], synthesis: Synthesis, image_size: int
) -> tuple[dict, dict[str, Image.Image]]:
    """As many synthetic images of each smaller class as balancing needs (largest class - that class),
    each from its class's generator.

    Returns them as one image set at the classifier's ``image_size`` (uint8, the label of each
    image's class, ``paths`` ``synthetic:<profile>/synthetic_<class>_<index>``, so every use can
    tell which GAN made an image) and as PNG partitions for a person to look at.

    Raises:
        ValueError: when a class needs images and ``generators`` has none for it (the training set
            changed since the GANs were trained).
    """
    class_counts = np.bincount(train_set["labels"], minlength=len(classes))
    labels = synthesised_labels(class_counts)
    missing = [classes[label] for label in labels if classes[label] not in generators]
    if missing:
        raise ValueError(
            f"The training set needs synthetic {missing} images but the saved generators are for {sorted(generators)}. "
            "Train them again: kedro run --pipeline synthesis."
        )
    counts = [synthetic_images_made(class_counts, label) for label in labels]
    generated = [
        generate_images(generators[classes[label]], count, image_size, np.random.default_rng(synthesis.seed + 1 + label))
        for label, count in zip(labels, counts)
    ]
    names = [f"synthetic_{classes[label].lower()}_{index:05d}" for label, count in zip(labels, counts) for index in range(count)]
    logger.info(
        "Generated synthetic images %s (class counts %s).",
        {classes[label]: count for label, count in zip(labels, counts)},
        class_counts.tolist(),
    )
    images = np.concatenate([np.empty((0, image_size, image_size), dtype=np.uint8), *generated])
    synthetic_set = {
        "images": images,
        "labels": np.repeat(np.array(labels, dtype=np.uint8), counts),
        "paths": np.array([synthetic_image_path(synthesis.profile, name) for name in names], dtype=str),
    }
    return synthetic_set, {name: Image.fromarray(image) for name, image in zip(names, images)}


def plot_gan_losses(gan_history: dict[str, dict[str, list[float]]]) -> Figure:
    """Discriminator and generator loss against the iteration, one panel per class's DCGAN."""
    figure = Figure(figsize=(7, 4 * max(len(gan_history), 1)), layout="constrained")
    for axes, (class_name, history) in zip(np.atleast_1d(figure.subplots(max(len(gan_history), 1), 1)), gan_history.items()):
        for name in ("discriminator_loss", "generator_loss"):
            axes.plot(history["iteration"], history[name], label=name.replace("_", " "))
        axes.set_xlabel("iteration")
        axes.set_ylabel("loss (the profile's: binary cross-entropy or hinge)")
        axes.set_title(f"DCGAN losses, {class_name}")
        axes.legend()
    return figure
