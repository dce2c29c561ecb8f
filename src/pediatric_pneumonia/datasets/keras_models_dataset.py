"""A Kedro dataset for Keras models named by class (the DCGAN's generator of each class it balances),
stored as one folder of ``<name>.keras`` files."""

import shutil
from pathlib import Path
from typing import Any

import keras
from kedro.io import AbstractVersionedDataset, Version
from kedro.io.core import DatasetError


class KerasModelsDataset(AbstractVersionedDataset[dict[str, keras.Model], dict[str, keras.Model]]):
    """Saves ``{name: model}`` as ``<folder>/<name>.keras`` and loads every model of the folder.

    Example catalog entry::

        image_generators:
          type: pediatric_pneumonia.datasets.KerasModelsDataset
          filepath: data/06_models/image_generators
          versioned: true
    """

    def __init__(self, *, filepath: str, version: Version | None = None, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata
        super().__init__(filepath=Path(filepath), version=version, exists_function=lambda path: Path(path).exists())

    def load(self) -> dict[str, keras.Model]:
        folder = Path(self._get_load_path())
        return {file.stem: keras.saving.load_model(file) for file in sorted(folder.glob("*.keras"))}

    def save(self, data: dict[str, keras.Model]) -> None:
        save_path = Path(self._get_save_path())
        # Written beside the target first, so an interrupted save never leaves half the models.
        partial = save_path.with_name(f"{save_path.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for name, model in data.items():
            model.save(partial / f"{name}.keras")
        shutil.rmtree(save_path, ignore_errors=True)
        partial.rename(save_path)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version}

    def _exists(self) -> bool:
        try:
            return Path(self._get_load_path()).is_dir()
        except DatasetError:  # a versioned dataset with no saved version yet
            return False
