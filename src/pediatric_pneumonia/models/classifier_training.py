"""The one training loop of the classifier (``fit_classifier``), for every caller (the training
pipeline, each member of a seed ensemble, the search's trials): batches of a fixed number of images
per epoch, freshly augmented, normalised and optionally mixed (mixup, cutmix), the learning-rate
schedule, and early stopping on a validation signal."""

import math

import keras
import numpy as np

from ..choices import better_direction
from ..imaging.augment import augment_batch
from ..imaging.preprocess import as_model_input
from ..parameters import EarlyStopping, Training
from .classifier import build_classifier, predict_probabilities


def cosine_learning_rate(epoch: int, epochs: int, initial: float) -> float:
    """Half a cosine from ``initial`` at the first epoch towards zero after the last."""
    return initial * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


def training_targets(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The float32 targets the loss takes: labels as they are for two classes (0/1, or soft
    probabilities of the positive class); for K > 2 class indices one-hot, (N, K), and soft (N, K)
    targets as they are."""
    labels = np.asarray(labels)
    if n_classes == 2 or labels.ndim == 2:
        return labels.astype(np.float32)
    return np.eye(n_classes, dtype=np.float32)[labels.astype(int)]


def class_count(validation_set: dict) -> int:
    """How many classes a training run has: every class is in validation (the preprocessing
    refuses a subset without one), as integer labels."""
    return max(2, int(validation_set["labels"].max()) + 1)


class TrainingBatches(keras.utils.PyDataset):
    """Batches of ``images_per_epoch`` images drawn from a training set each epoch.

    The draw walks through random permutations of the whole set, so every image is seen equally
    often; every batch is augmented (``augmentation``) and then normalised (``intensity``), with
    a random stream fixed by ``seed``, the epoch and the batch index, so a run is repeatable.
    A fixed ``images_per_epoch`` gives every balancing strategy the same number of gradient steps
    whatever the size of its balanced set. A set with per-image ``weights`` (a class-weighted
    strategy) yields ``(images, labels, weights)``, which Keras applies to the loss. With
    ``mixup`` (``training.mixup``, method other than ``none``) each batch is then mixed by
    ``mix_batch`` from the same random stream; None or method ``none`` leaves it as it is.
    """

    def __init__(
        self,
        image_set: dict,
        batch_size: int,
        images_per_epoch: int,
        augmentation: dict,
        intensity: dict,
        seed: int,
        mixup: dict | None = None,
        n_classes: int = 2,
    ) -> None:
        super().__init__()
        self.images = image_set["images"]
        self.labels = training_targets(image_set["labels"], n_classes)
        self.weights = image_set["weights"].astype(np.float32) if "weights" in image_set else None
        self.batch_size = batch_size
        self.images_per_epoch = images_per_epoch
        self.augmentation = augmentation
        self.intensity = intensity
        self.seed = seed
        self.mixup = mixup
        self.epoch = 0
        self.order = self._draw_order()

    def _draw_order(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        passes = math.ceil(self.images_per_epoch / len(self.labels))
        return np.concatenate([rng.permutation(len(self.labels)) for _ in range(passes)])[: self.images_per_epoch]

    def __len__(self) -> int:
        return math.ceil(self.images_per_epoch / self.batch_size)

    def __getitem__(self, index: int) -> tuple[np.ndarray, ...]:
        members = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        images = as_model_input(augment_batch(self.images[members], self.augmentation, rng), self.intensity)
        labels = self.labels[members]
        weights = None if self.weights is None else self.weights[members]
        if self.mixup is not None and self.mixup["method"] != "none":
            images, labels, weights = mix_batch(images, labels, weights, self.mixup, rng)
        return (images, labels) if weights is None else (images, labels, weights)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._draw_order()


def mix_batch(
    images: np.ndarray, labels: np.ndarray, weights: np.ndarray | None, mixup: dict, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Mix every image of a ``(N, H, W, 1)`` model-input batch with a partner from the same batch
    (a random permutation) and its label (and per-image weight) by the same share.

    ``mixup``: the image keeps a share s ~ Beta(alpha, alpha) of itself, the pixel-wise
    s x own + (1 - s) x partner. ``cutmix``: a box covering a share ~ Beta(alpha, alpha) of the
    frame (rounded to whole pixels, anywhere inside it) is replaced by the partner's same box, and
    s is the share of pixels left of the image itself. Labels and weights become s x own +
    (1 - s) x partner's, so labels are soft. Weights mix like labels: for a class-weighted set this
    weighs the mixed image's loss between its two sources' class weights.
    """
    partners = rng.permutation(len(labels))
    alpha = mixup["alpha"]
    if mixup["method"] == "mixup":
        own = rng.beta(alpha, alpha, size=len(labels)).astype(np.float32)
        share = own[:, np.newaxis, np.newaxis, np.newaxis]
        mixed = share * images + (1 - share) * images[partners]
    else:
        mixed, own = _paste_boxes(images, partners, alpha, rng)

    def blend(values: np.ndarray) -> np.ndarray:
        share = own.reshape(-1, *([1] * (values.ndim - 1)))  # (N,) labels and weights, (N, K) one-hot targets
        return share * values + (1 - share) * values[partners]

    return mixed, blend(labels), None if weights is None else blend(weights)


def _paste_boxes(
    images: np.ndarray, partners: np.ndarray, alpha: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """CutMix: each image with a box of its partner pasted in, and the share of its own pixels."""
    mixed = images.copy()
    height, width = images.shape[1:3]
    own = np.empty(len(images), dtype=np.float32)
    for index, partner in enumerate(partners):
        side = math.sqrt(rng.beta(alpha, alpha))
        box_height, box_width = round(side * height), round(side * width)
        top = rng.integers(0, height - box_height + 1)
        left = rng.integers(0, width - box_width + 1)
        box = (slice(top, top + box_height), slice(left, left + box_width))
        mixed[index][box] = images[partner][box]
        own[index] = 1 - box_height * box_width / (height * width)
    return mixed, own


def early_stopping(stopping: EarlyStopping) -> keras.callbacks.EarlyStopping:
    """Stop when ``stopping.monitor`` has not improved for ``stopping.patience`` epochs and keep the
    best epoch's weights."""
    return keras.callbacks.EarlyStopping(
        monitor=stopping.monitor,
        mode=better_direction(stopping.monitor),
        patience=stopping.patience,
        restore_best_weights=True,
    )


def distillation_set(train_set: dict, teachers: keras.Model, intensity: dict, batch_size: int) -> dict:
    """``train_set`` with its labels replaced by ``teachers``' probability of each (unaugmented)
    training image: the soft targets a student learns from (per-image weights kept)."""
    soft = predict_probabilities(teachers, train_set["images"], intensity, batch_size)
    return {**train_set, "labels": soft.astype(np.float32)}


def fit_classifier(
    train_set: dict,
    validation_set: dict,
    training: Training,
    intensity: dict,
    callbacks: list[keras.callbacks.Callback] | tuple = (),
    verbose: int = 2,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Build ``training.architecture`` for the training set's images and fit it for at most
    ``training.epochs`` epochs of ``training.images_per_epoch`` (all: null) augmented, normalised
    and mixed images, with ``training.seed`` fixing the weights, the batch order and the
    augmentation, on the ``training.learning_rate_schedule``. Validation is scored after every
    epoch, unweighted; ``callbacks`` (early stopping, a reporter) see it.

    Returns the model and its per-epoch history (``loss``, ``val_loss``, ``val_auc``, ``lr``, ...).
    """
    keras.utils.set_random_seed(training.seed)
    images = train_set["images"]
    n_classes = class_count(validation_set)
    batches = TrainingBatches(
        train_set,
        batch_size=training.batch_size,
        images_per_epoch=training.images_per_epoch or len(images),
        augmentation=training.augmentation.plain(),
        intensity=intensity,
        seed=training.seed,
        mixup=training.mixup.plain(),
        n_classes=n_classes,
    )
    model = build_classifier((*images.shape[1:], 1), training.architecture, n_classes)
    schedule = []
    if training.learning_rate_schedule == "cosine":
        initial, epochs = training.architecture.learning_rate, training.epochs
        schedule.append(keras.callbacks.LearningRateScheduler(lambda epoch: cosine_learning_rate(epoch, epochs, initial)))
    history = model.fit(
        batches,
        epochs=training.epochs,
        validation_data=(as_model_input(validation_set["images"], intensity), training_targets(validation_set["labels"], n_classes)),
        validation_batch_size=training.batch_size,
        callbacks=[*schedule, *callbacks],
        verbose=verbose,
    )
    return model, {name: [float(value) for value in values] for name, values in history.history.items()}
