"""DCGAN synthesis of images of the minority class (NORMAL), trained on training images only.

Plain Keras 3 (no ``tf.*``): the discriminator and the stacked generator + frozen discriminator
are trained alternately with ``train_on_batch``, which every Keras backend implements, so the
``paper`` profile can run on a GPU under ``KERAS_BACKEND=jax``.

Besides the paper's method (binary cross-entropy, RMSprop), a profile can choose the usual
stabilisers of small-data GANs: the hinge loss, Adam with two learning rates, spectral
normalisation and DiffAugment in the discriminator, and a moving average of the generator.
"""

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import keras
import mlflow
import numpy as np
from matplotlib.figure import Figure
from PIL import Image
from tqdm.auto import tqdm

from ...imaging.diff_augment import DIFF_AUGMENT_POLICIES, DiffAugment
from ...imaging.grids import class_images, image_grid
from ...naming import synthetic_image_path

logger = logging.getLogger(__name__)

CHECKPOINT_STATE = "state.json"
RESUMABLE_SETTINGS = ("iterations", "log_every", "checkpoint_every")
OPTIMIZERS = ("rmsprop", "adam")
ADAM_BETAS = ("beta_1", "beta_2")
# The settings every profile states; the paper's DCGAN is the first value of each.
METHOD_SETTINGS = {
    "loss": "bce | hinge",
    "optimizer": "rmsprop | adam",
    "generator.ema": "null | a momentum such as 0.999",
    "discriminator.spectral_norm": "false | true",
    "discriminator.diff_augment": f"[] | some of {list(DIFF_AUGMENT_POLICIES)}",
}


def generator_hinge_loss(y_true, y_pred):
    """The hinge GAN's generator loss, -D(G(z)) per image; the labels are not used."""
    return -keras.ops.mean(y_pred, axis=-1)


# Per loss: the discriminator's output activation, its loss and the generator's loss. Keras'
# "hinge" turns the 1/0 labels into +1/-1.
GAN_LOSSES = {
    "bce": ("sigmoid", "binary_crossentropy", "binary_crossentropy"),
    "hinge": (None, "hinge", generator_hinge_loss),
}


def select_gan_profile(synthesis: dict) -> dict:
    """The GAN profile named by ``synthesis.profile``, checked so training cannot fail half-way.

    Raises:
        ValueError: for an unknown profile or a resolution the generator cannot produce.
    """
    name = synthesis["profile"]
    profiles = synthesis["profiles"]
    if name not in profiles:
        raise ValueError(
            f"Unknown GAN profile '{name}'. Use one of {sorted(profiles)} "
            "(synthesis.profile in conf/base/parameters_synthesis.yml)."
        )
    profile = profiles[name]
    upsampling = math.prod(profile["generator"]["strides"])
    if profile["image_size"] % upsampling:
        raise ValueError(
            f"GAN profile '{name}': image_size {profile['image_size']} cannot be produced by a "
            f"generator whose strides {profile['generator']['strides']} upsample by {upsampling}. "
            f"Use a multiple of {upsampling}."
        )
    if len(profile["generator"]["filters"]) != len(profile["generator"]["strides"]):
        raise ValueError(f"GAN profile '{name}': generator filters and strides need the same length.")
    check_gan_method(name, profile)
    return profile


def check_gan_method(name: str, profile: dict) -> None:
    """Raise a ValueError naming the key and the fix for a missing or unusable method setting
    (loss, optimizer, generator averaging, spectral normalisation, DiffAugment)."""
    where = f"GAN profile '{name}' (synthesis.profiles.{name} in conf/base/parameters_synthesis.yml)"
    missing = [key for key in METHOD_SETTINGS if key.split(".")[-1] not in setting_group(profile, key)]
    if missing:
        choices = "; ".join(f"{key}: {METHOD_SETTINGS[key]}" for key in missing)
        raise ValueError(f"{where} lacks {missing}. Set them ({choices}); the paper's DCGAN is the first of each.")
    if profile["loss"] not in GAN_LOSSES:
        raise ValueError(f"{where}: unknown loss '{profile['loss']}'. Use one of {list(GAN_LOSSES)}.")
    if profile["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"{where}: unknown optimizer '{profile['optimizer']}'. Use one of {list(OPTIMIZERS)}.")
    betas = [key for key in ADAM_BETAS if key in profile]
    if profile["optimizer"] == "adam" and not all(is_fraction(profile.get(key)) for key in ADAM_BETAS):
        raise ValueError(f"{where}: optimizer adam needs beta_1 and beta_2 in [0, 1), e.g. 0.0 and 0.9.")
    if profile["optimizer"] != "adam" and betas:
        raise ValueError(f"{where}: {betas} are Adam's settings; remove them or set optimizer: adam.")
    ema = profile["generator"]["ema"]
    if ema is not None and not (is_fraction(ema) and ema > 0):
        raise ValueError(f"{where}: generator.ema must be null or a momentum in (0, 1) such as 0.999, got {ema}.")
    if not isinstance(profile["discriminator"]["spectral_norm"], bool):
        raise ValueError(f"{where}: discriminator.spectral_norm must be true or false.")
    policies = profile["discriminator"]["diff_augment"]
    if not isinstance(policies, list) or not set(policies) <= set(DIFF_AUGMENT_POLICIES):
        raise ValueError(
            f"{where}: unknown discriminator.diff_augment {policies}. Use a list of some of "
            f"{list(DIFF_AUGMENT_POLICIES)}, or [] for none."
        )


def is_fraction(value) -> bool:
    """Whether ``value`` is a number in [0, 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1


def setting_group(profile: dict, key: str) -> dict:
    """The part of ``profile`` that holds the dotted setting ``key`` (the profile or one model)."""
    return profile[key.split(".")[0]] if "." in key else profile


def build_optimizer(profile: dict, learning_rate: float) -> keras.optimizers.Optimizer:
    """The profile's optimizer: RMSprop (the paper) or Adam with the profile's beta_1 and beta_2."""
    if profile["optimizer"] == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, beta_1=profile["beta_1"], beta_2=profile["beta_2"])
    return keras.optimizers.RMSprop(learning_rate=learning_rate)


def build_generator(image_size: int, latent_dim: int, generator: dict) -> keras.Model:
    """Dense(s*s*base) - Reshape - [Conv2DTranspose - BN - ReLU]* - Conv2DTranspose(1) - sigmoid."""
    start = image_size // math.prod(generator["strides"])
    kernel = generator["kernel_size"]
    noise = keras.Input(shape=(latent_dim,), name="noise")
    features = keras.layers.Dense(start * start * generator["base_filters"], name="project")(noise)
    features = keras.layers.Reshape((start, start, generator["base_filters"]))(features)
    for index, (filters, stride) in enumerate(zip(generator["filters"], generator["strides"])):
        features = keras.layers.Conv2DTranspose(
            filters, kernel, strides=stride, padding="same", name=f"upsample_{index + 1}"
        )(features)
        features = keras.layers.BatchNormalization(momentum=0.9, name=f"batch_norm_{index + 1}")(features)
        features = keras.layers.ReLU()(features)
    image = keras.layers.Conv2DTranspose(1, kernel, padding="same", activation="sigmoid", name="image")(features)
    return keras.Model(noise, image, name="generator")


def build_discriminator(
    image_size: int, discriminator: dict, loss: str, optimizer: keras.optimizers.Optimizer
) -> keras.Model:
    """(DiffAugment -) [Conv2D - LeakyReLU (- Dropout)]* - Flatten - Dense(1), compiled with ``loss``.

    The paper's: no DiffAugment, no spectral normalisation, a sigmoid output, binary cross-entropy.
    """
    activation, discriminator_loss, _ = GAN_LOSSES[loss]
    image = keras.Input(shape=(image_size, image_size, 1), name="image")
    features = image
    if discriminator["diff_augment"]:
        features = DiffAugment(discriminator["diff_augment"], name="diff_augment")(features)
    for index, (filters, stride) in enumerate(zip(discriminator["filters"], discriminator["strides"])):
        convolution = keras.layers.Conv2D(
            filters, discriminator["kernel_size"], strides=stride, padding="same", name=f"conv_{index + 1}"
        )
        features = spectrally_normalised(convolution, discriminator["spectral_norm"])(features)
        features = keras.layers.LeakyReLU(negative_slope=0.2)(features)
        if discriminator["dropout"]:
            features = keras.layers.Dropout(discriminator["dropout"])(features)
    features = keras.layers.Flatten()(features)
    output = keras.layers.Dense(1, activation=activation, name="real")
    real = spectrally_normalised(output, discriminator["spectral_norm"])(features)
    model = keras.Model(image, real, name="discriminator")
    model.compile(optimizer=optimizer, loss=discriminator_loss)
    return model


def spectrally_normalised(layer: keras.layers.Layer, spectral_norm: bool) -> keras.layers.Layer:
    """``layer`` wrapped in spectral normalisation when ``spectral_norm``, else ``layer`` itself.

    Keras' wrapper writes W / sigma(W) back into the kernel whenever it runs in training mode, the
    generator's step included: a projection, not a gradient update of the frozen discriminator.
    """
    return keras.layers.SpectralNormalization(layer, name=f"spectral_{layer.name}") if spectral_norm else layer


def build_adversarial(
    generator: keras.Model, discriminator: keras.Model, loss: str, optimizer: keras.optimizers.Optimizer
) -> keras.Model:
    """Generator followed by the discriminator, compiled to train the generator only.

    The discriminator runs in training mode inside it, so its DiffAugment (if any) augments the
    generator's images in the generator's step too, as DiffAugment requires.
    """
    discriminator.trainable = False
    noise = keras.Input(shape=generator.input_shape[1:], name="noise")
    model = keras.Model(noise, discriminator(generator(noise)), name="adversarial")
    model.compile(optimizer=optimizer, loss=GAN_LOSSES[loss][2])
    return model


@dataclass
class GanModels:
    """The models of one GAN training. ``average`` holds the moving average of ``generator``'s
    weights when the profile sets ``generator.ema``; it is then the generator that is published."""

    generator: keras.Model
    discriminator: keras.Model
    average: keras.Model | None

    @property
    def published(self) -> keras.Model:
        """The generator whose images are used: the average when there is one."""
        return self.generator if self.average is None else self.average


def build_gan(profile: dict) -> GanModels:
    """Freshly initialised models for ``profile``; the average starts as a copy of the generator."""
    generator = build_generator(profile["image_size"], profile["latent_dim"], profile["generator"])
    discriminator = build_discriminator(
        profile["image_size"],
        profile["discriminator"],
        profile["loss"],
        build_optimizer(profile, profile["discriminator"]["learning_rate"]),
    )
    average = None
    if profile["generator"]["ema"] is not None:
        average = keras.models.clone_model(generator)
        average.set_weights(generator.get_weights())
    return GanModels(generator, discriminator, average)


def averaging_momentum(momentum: float, step: int) -> float:
    """The momentum of the ``step``-th (1-based) update of a bias-corrected moving average.

    (m - m^t) / (1 - m^t) makes the average the m^(t-i)-weighted mean of the generators seen so
    far, with no trace of the random initial weights (a plain average started from them at
    momentum 0.999 still holds 37% of them after 1,000 updates). It follows from the iteration
    alone, so a resumed run continues it exactly.
    """
    return momentum * (1 - momentum ** (step - 1)) / (1 - momentum**step)


def update_average(average: keras.Model, generator: keras.Model, momentum: float) -> None:
    """average <- momentum * average + (1 - momentum) * generator, for every weight.

    The batch-normalisation statistics are averaged too, so they follow the averaged weights.
    """
    for average_weight, weight in zip(average.weights, generator.weights):
        average_weight.assign(momentum * average_weight + (1 - momentum) * weight)


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


def sample_noise(rng: np.random.Generator, count: int, latent_dim: int) -> np.ndarray:
    """Latent noise from uniform(-1, 1), as in the paper."""
    return rng.uniform(-1.0, 1.0, size=(count, latent_dim)).astype(np.float32)


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


def log_progress_to_mlflow(losses: dict[str, float], iteration: int, samples: np.ndarray) -> None:
    """Losses at ``iteration`` and a grid of samples, into the active MLflow run if any."""
    if mlflow.active_run() is None:
        return
    mlflow.log_metrics({f"gan.{name}": value for name, value in losses.items()}, step=iteration)
    mlflow.log_image(image_grid(samples), key="gan_samples", step=iteration)


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


def train_gan(train_set: dict, classes: list[str], synthesis: dict) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train the DCGAN on the training images of ``synthesis.target_class`` only.

    Every ``checkpoint_every`` iterations the models and the loop state are saved to
    ``synthesis.checkpoint_dir/<profile>``; a run started again with the same settings resumes
    from there, and another profile's checkpoint is left alone. Every ``log_every`` iterations
    the losses and a sample grid go to MLflow.
    Returns the published generator (the moving average when ``generator.ema`` is set) and the
    loss history (one entry per logged iteration).
    """
    profile = select_gan_profile(synthesis)
    real = select_class_images(train_set, classes, synthesis["target_class"], profile["image_size"])
    latent_dim, batch_size = profile["latent_dim"], profile["batch_size"]
    # What the models depend on; the iteration budget and logging cadence may change on resume.
    model_settings = {key: value for key, value in profile.items() if key not in RESUMABLE_SETTINGS}
    images_hash = hashlib.blake2b(real.tobytes(), digest_size=16).hexdigest()
    fingerprint = json.dumps({**model_settings, "images": images_hash, "seed": synthesis["seed"]}, sort_keys=True)
    ema = profile["generator"]["ema"]
    checkpoint = GanCheckpoint(Path(synthesis["checkpoint_dir"]) / synthesis["profile"], fingerprint, averaged=ema is not None)

    keras.utils.set_random_seed(synthesis["seed"])
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

    rng = np.random.default_rng([synthesis["seed"], state["iteration"]])
    fixed_noise = sample_noise(np.random.default_rng(synthesis["seed"]), 16, latent_dim)
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
            log_progress_to_mlflow(
                {"discriminator_loss": discriminator_loss, "generator_loss": generator_loss},
                done,
                models.published.predict(fixed_noise, verbose=0),
            )
        if done % profile["checkpoint_every"] == 0 or done == profile["iterations"]:
            checkpoint.save(models, {"iteration": done, "history": history})
    return models.published, history


def generate_synthetic_images(
    generator: keras.Model, train_set: dict, classes: list[str], synthesis: dict, image_size: int
) -> tuple[dict, dict[str, Image.Image]]:
    """As many synthetic ``target_class`` images as balancing needs (largest class - target class).

    Returns them as an image set at the classifier's ``image_size`` (uint8, label of the target
    class, ``paths`` ``synthetic:<profile>/<name>``, so every use can tell which GAN made an image)
    and as PNG partitions for a person to look at.
    """
    class_counts = np.bincount(train_set["labels"], minlength=len(classes))
    label = classes.index(synthesis["target_class"])
    count = int(class_counts.max() - class_counts[label])
    rng = np.random.default_rng(synthesis["seed"] + 1)
    generated = generator.predict(sample_noise(rng, count, generator.input_shape[1]), batch_size=256, verbose=0)
    images = (
        np.stack(
            [
                cv2.resize(
                    (image[..., 0] * 255).round().astype(np.uint8),
                    (image_size, image_size),
                    interpolation=cv2.INTER_CUBIC,
                )
                for image in generated
            ]
        )
        if count
        else np.empty((0, image_size, image_size), dtype=np.uint8)
    )
    names = [f"synthetic_{synthesis['target_class'].lower()}_{index:05d}" for index in range(count)]
    logger.info(
        "Generated %d synthetic %s images (class counts %s).", count, synthesis["target_class"], class_counts.tolist()
    )
    synthetic_set = {
        "images": images,
        "labels": np.full(count, label, dtype=np.uint8),
        "paths": np.array([synthetic_image_path(synthesis["profile"], name) for name in names], dtype=str),
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
