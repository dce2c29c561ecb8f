"""DCGAN synthesis of images of the minority class (NORMAL), trained on training images only.

The model and its training loop live in ``models.dcgan`` and ``models.dcgan_training``; these
nodes choose the profile, pick the class and name the images.
"""

import logging
from pathlib import Path

import keras
import mlflow
import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from ...class_balance import synthetic_images_made
from ...imaging.grids import image_grid
from ...models.dcgan_training import generate_images, select_class_images, train_dcgan
from ...models.gan_profiles import select_gan_profile
from ...naming import synthetic_image_path
from ...parameters import Synthesis

logger = logging.getLogger(__name__)


def log_progress_to_mlflow(losses: dict[str, float], iteration: int, samples: np.ndarray) -> None:
    """Losses at ``iteration`` and a grid of samples, into the active MLflow run if any.

    Logged from inside the node on purpose: a per-iteration series is what MLflow's charts show,
    and the catalog only sees the finished history.
    """
    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({f"synthesis.train.{name}": value for name, value in losses.items()}, step=iteration)
    mlflow.log_image(image_grid(samples), key="synthesis_samples", step=iteration)


def train_gan(train_set: dict, classes: list[str], synthesis: Synthesis) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the DCGAN of ``synthesis.profile`` on the training images of ``synthesis.target_class`` only.

    Checkpoints go to ``synthesis.checkpoint_dir/<profile>``, so a rerun with the same settings
    resumes and another profile's checkpoint is left alone; losses and sample grids go to MLflow.
    Returns the published generator and the loss history.

    Raises:
        ValueError: for a task of more than two classes, which one generator cannot balance.
    """
    if len(classes) > 2:
        raise ValueError(
            f"The DCGAN synthesises {synthesis.target_class} images only, which balances two classes; raw_data.classes "
            f"{classes} needs a generator per smaller class, which the gan and combined strategies do not have yet. "
            "Run baseline, augmentation, class_weight or oversample for this task."
        )
    profile = select_gan_profile(synthesis)
    real = select_class_images(train_set, classes, synthesis.target_class, profile["image_size"])
    checkpoint_folder = Path(synthesis.checkpoint_dir) / synthesis.profile
    return train_dcgan(real, profile, synthesis.seed, checkpoint_folder, log_progress_to_mlflow)


def generate_synthetic_images(
    generator: keras.Model, train_set: dict, classes: list[str], synthesis: Synthesis, image_size: int
) -> tuple[dict, dict[str, Image.Image]]:
    """As many synthetic ``target_class`` images as balancing needs (largest class - target class).

    Returns them as an image set at the classifier's ``image_size`` (uint8, label of the target
    class, ``paths`` ``synthetic:<profile>/<name>``, so every use can tell which GAN made an image)
    and as PNG partitions for a person to look at.
    """
    class_counts = np.bincount(train_set["labels"], minlength=len(classes))
    label = classes.index(synthesis.target_class)
    count = synthetic_images_made(class_counts, label)
    images = generate_images(generator, count, image_size, np.random.default_rng(synthesis.seed + 1))
    names = [f"synthetic_{synthesis.target_class.lower()}_{index:05d}" for index in range(count)]
    logger.info(
        "Generated %d synthetic %s images (class counts %s).", count, synthesis.target_class, class_counts.tolist()
    )
    synthetic_set = {
        "images": images,
        "labels": np.full(count, label, dtype=np.uint8),
        "paths": np.array([synthetic_image_path(synthesis.profile, name) for name in names], dtype=str),
    }
    return synthetic_set, {name: Image.fromarray(image) for name, image in zip(names, images)}


def plot_gan_losses(gan_history: dict[str, list[float]]) -> Figure:
    """Discriminator and generator loss against the iteration."""
    figure = Figure(figsize=(7, 4), layout="constrained")
    axes = figure.subplots()
    for name in ("discriminator_loss", "generator_loss"):
        axes.plot(gan_history["iteration"], gan_history[name], label=name.replace("_", " "))
    axes.set_xlabel("iteration")
    axes.set_ylabel("loss (the profile's: binary cross-entropy or hinge)")
    axes.set_title("DCGAN losses")
    axes.legend()
    return figure
