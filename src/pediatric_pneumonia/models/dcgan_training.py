"""Training the DCGAN (``dcgan``) on the images of one class, with checkpoints it resumes from, and
sampling images from the trained generator."""

import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import keras
import numpy as np
from tqdm.auto import tqdm

from ..imaging.grids import class_images
from .dcgan import (
    GanModels,
    averaging_momentum,
    build_adversarial,
    build_gan,
    build_optimizer,
    sample_noise,
    update_average,
)

logger = logging.getLogger(__name__)

CHECKPOINT_STATE = "state.json"
# The profile settings a run may change and still resume: the budget and the cadences.
RESUMABLE_SETTINGS = ("iterations", "log_every", "checkpoint_every")

# Called every ``log_every`` iterations with the losses, the iteration and a batch of samples.
ProgressCallback = Callable[[dict[str, float], int, np.ndarray], None]


def select_class_images(image_set: dict, classes: list[str], label: str, image_size: int) -> np.ndarray:
    """The images of class ``label`` resized to ``image_size``, as (N, s, s, 1) float32 in [0, 1]."""
    images = class_images(image_set, classes, label)
    if len(images) == 0:
        raise ValueError(
            f"The training set has no {label} image: the GAN has nothing to learn from. "
            "Check the class folders of the raw data."
        )
    resized = np.stack([cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_AREA) for image in images])
    return resized[..., np.newaxis].astype(np.float32) / 255.0


class GanCheckpoint:
    """Generator, discriminator (with its optimizer state) and loop state in one folder.

    A checkpoint belongs to one configuration: ``fingerprint`` (model settings, seed and a hash
    of the training images) must match, otherwise training starts over instead of resuming
    someone else's run. ``generator.keras`` is the published generator (the moving average when
    ``averaged``); an averaged GAN also keeps the generator being trained in
    ``training_generator.keras``, so a resumed run continues both exactly. The generator's
    optimizer restarts on resume (RMSprop and Adam warm up in a few iterations).
    """

    def __init__(self, folder: str | Path, fingerprint: str, averaged: bool) -> None:
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.averaged = averaged

    def load(self) -> tuple[GanModels, dict] | None:
        state_file = self.folder / CHECKPOINT_STATE
        if not state_file.is_file():
            return None
        state = json.loads(state_file.read_text())
        if state["fingerprint"] != self.fingerprint:
            logger.warning("Ignoring the GAN checkpoint in '%s': it was made with other settings.", self.folder)
            return None
        published = keras.saving.load_model(self.folder / "generator.keras")
        discriminator = keras.saving.load_model(self.folder / "discriminator.keras")
        if self.averaged:
            generator = keras.saving.load_model(self.folder / "training_generator.keras")
            return GanModels(generator, discriminator, published), state
        return GanModels(published, discriminator, None), state

    def save(self, models: GanModels, state: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Saved trainable, so the restored optimizer is rebuilt for the discriminator's weights.
        models.discriminator.trainable = True
        files = {"generator.keras": models.published, "discriminator.keras": models.discriminator}
        if self.averaged:
            files["training_generator.keras"] = models.generator
        # Each file is written beside its final name and renamed, so a kill mid-save keeps the
        # previous checkpoint whole; the state file, renamed last, says which iteration it is.
        for name, model in files.items():
            model.save(self.folder / f"partial-{name}")
            (self.folder / f"partial-{name}").replace(self.folder / name)
        (self.folder / f"partial-{CHECKPOINT_STATE}").write_text(json.dumps({**state, "fingerprint": self.fingerprint}))
        (self.folder / f"partial-{CHECKPOINT_STATE}").replace(self.folder / CHECKPOINT_STATE)


def checkpoint_fingerprint(profile: dict, real: np.ndarray, seed: int) -> str:
    """What the models depend on: the profile less its resumable settings, the images and the seed."""
    model_settings = {key: value for key, value in profile.items() if key not in RESUMABLE_SETTINGS}
    images_hash = hashlib.blake2b(real.tobytes(), digest_size=16).hexdigest()
    return json.dumps({**model_settings, "images": images_hash, "seed": seed}, sort_keys=True)


def train_gan_step(
    generator: keras.Model,
    discriminator: keras.Model,
    adversarial: keras.Model,
    real_batch: np.ndarray,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """One iteration: the discriminator on real + generated images, then the generator through it.

    ``trainable`` is switched before each ``train_on_batch`` so that each step updates only its
    own model on every Keras backend. Returns the discriminator and generator losses.
    """
    count, latent_dim = len(real_batch), generator.input_shape[1]
    # A direct call: predict() costs about 0.1 s of set-up per batch, a tenth of an iteration.
    fake_batch = keras.ops.convert_to_numpy(generator(sample_noise(rng, count, latent_dim), training=False))
    discriminator.trainable = True
    discriminator_loss = discriminator.train_on_batch(
        np.concatenate([real_batch, fake_batch]),
        np.concatenate([np.ones((count, 1)), np.zeros((count, 1))]).astype(np.float32),
    )
    discriminator.trainable = False
    generator_loss = adversarial.train_on_batch(
        sample_noise(rng, count, latent_dim), np.ones((count, 1), dtype=np.float32)
    )
    return float(discriminator_loss), float(generator_loss)


def train_dcgan(
    real: np.ndarray,
    profile: dict,
    seed: int,
    checkpoint_folder: str | Path,
    on_progress: ProgressCallback | None = None,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the DCGAN of ``profile`` on ``real`` images ((N, s, s, 1) floats in [0, 1]).

    Every ``checkpoint_every`` iterations the models and the loop state are saved to
    ``checkpoint_folder``; a run started again with the same settings resumes from there, one with
    other settings starts over. Every ``log_every`` iterations the losses are recorded and passed,
    with samples from a fixed noise batch, to ``on_progress``.
    Returns the published generator (the moving average when ``generator.ema`` is set) and the
    loss history (one entry per logged iteration).
    """
    latent_dim, batch_size, ema = profile["latent_dim"], profile["batch_size"], profile["generator"]["ema"]
    checkpoint = GanCheckpoint(checkpoint_folder, checkpoint_fingerprint(profile, real, seed), averaged=ema is not None)

    keras.utils.set_random_seed(seed)
    restored = checkpoint.load()
    if restored is None:
        models = build_gan(profile)
        state = {"iteration": 0, "history": {"discriminator_loss": [], "generator_loss": [], "iteration": []}}
    else:
        models, state = restored
        logger.info("Resuming GAN training from iteration %d (%s).", state["iteration"], checkpoint.folder)
    adversarial = build_adversarial(
        models.generator,
        models.discriminator,
        profile["loss"],
        build_optimizer(profile, profile["generator"]["learning_rate"]),
    )

    rng = np.random.default_rng([seed, state["iteration"]])
    fixed_noise = sample_noise(np.random.default_rng(seed), 16, latent_dim)
    history = state["history"]
    progress = tqdm(
        range(state["iteration"], profile["iterations"]),
        desc="Training GAN",
        unit="it",
        initial=state["iteration"],
        total=profile["iterations"],
    )
    for iteration in progress:
        real_batch = real[rng.integers(0, len(real), batch_size)]
        discriminator_loss, generator_loss = train_gan_step(
            models.generator, models.discriminator, adversarial, real_batch, rng
        )
        done = iteration + 1
        if models.average is not None:
            update_average(models.average, models.generator, averaging_momentum(ema, done))
        progress.set_postfix(d_loss=f"{discriminator_loss:.3f}", g_loss=f"{generator_loss:.3f}")
        if done % profile["log_every"] == 0 or done == profile["iterations"]:
            history["discriminator_loss"].append(discriminator_loss)
            history["generator_loss"].append(generator_loss)
            history["iteration"].append(done)
            if on_progress is not None:
                losses = {"discriminator_loss": discriminator_loss, "generator_loss": generator_loss}
                on_progress(losses, done, models.published.predict(fixed_noise, verbose=0))
        if done % profile["checkpoint_every"] == 0 or done == profile["iterations"]:
            checkpoint.save(models, {"iteration": done, "history": history})
    return models.published, history


def generate_images(generator: keras.Model, count: int, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` images from ``generator``, resized to ``image_size``, as (count, s, s) uint8."""
    if not count:
        return np.empty((0, image_size, image_size), dtype=np.uint8)
    generated = generator.predict(sample_noise(rng, count, generator.input_shape[1]), batch_size=256, verbose=0)
    pixels = (generated[..., 0] * 255).round().astype(np.uint8)
    return np.stack([cv2.resize(image, (image_size, image_size), interpolation=cv2.INTER_CUBIC) for image in pixels])
