"""What fitting the classifier needs wherever it is trained (the training pipeline, the search's
trials): batches of a fixed number of images per epoch, freshly augmented and normalised, and the
learning-rate schedule."""

import math

import keras
import numpy as np

from ..imaging.augment import augment_batch
from ..imaging.preprocess import as_model_input


def cosine_learning_rate(epoch: int, epochs: int, initial: float) -> float:
    """Half a cosine from ``initial`` at the first epoch towards zero after the last."""
    return initial * 0.5 * (1 + math.cos(math.pi * epoch / epochs))


class TrainingBatches(keras.utils.PyDataset):
    """Batches of ``images_per_epoch`` images drawn from a training set each epoch.

    The draw walks through random permutations of the whole set, so every image is seen equally
    often; every batch is augmented (``augmentation``) and then normalised (``intensity``), with
    a random stream fixed by ``seed``, the epoch and the batch index, so a run is repeatable.
    A fixed ``images_per_epoch`` gives every balancing strategy the same number of gradient steps
    whatever the size of its balanced set. A set with per-image ``weights`` (a class-weighted
    strategy) yields ``(images, labels, weights)``, which Keras applies to the loss.
    """

    def __init__(
        self,
        image_set: dict,
        batch_size: int,
        images_per_epoch: int,
        augmentation: dict,
        intensity: dict,
        seed: int,
    ) -> None:
        super().__init__()
        self.images = image_set["images"]
        self.labels = image_set["labels"].astype(np.float32)
        self.weights = image_set["weights"].astype(np.float32) if "weights" in image_set else None
        self.batch_size = batch_size
        self.images_per_epoch = images_per_epoch
        self.augmentation = augmentation
        self.intensity = intensity
        self.seed = seed
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
        images = augment_batch(self.images[members], self.augmentation, rng)
        batch = (as_model_input(images, self.intensity), self.labels[members])
        return batch if self.weights is None else (*batch, self.weights[members])

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._draw_order()
