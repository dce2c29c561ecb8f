"""A Kedro dataset for a dict of NumPy arrays stored as one ``.npz`` file."""

from pathlib import PurePosixPath
from typing import Any

import fsspec
import numpy as np
from kedro.io import AbstractVersionedDataset, Version
from kedro.io.core import DatasetError, get_filepath_str, get_protocol_and_path


class NpzDataset(AbstractVersionedDataset[dict[str, np.ndarray], dict[str, np.ndarray]]):
    """Saves and loads ``dict[str, np.ndarray]`` with ``np.savez`` (no pickling, dtypes kept).

    Example catalog entry::

        train_set:
          type: pediatric_pneumonia.datasets.NpzDataset
          filepath: data/05_model_input/train_set.npz
    """

    def __init__(
        self,
        *,
        filepath: str,
        version: Version | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )

    def load(self) -> dict[str, np.ndarray]:
        load_path = get_filepath_str(self._get_load_path(), self._protocol)
        with self._fs.open(load_path, mode="rb") as file, np.load(file, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in arrays.files}

    def save(self, data: dict[str, np.ndarray]) -> None:
        save_path = get_filepath_str(self._get_save_path(), self._protocol)
        self._fs.makedirs(str(PurePosixPath(save_path).parent), exist_ok=True)
        # Write to a temporary name first so an interrupted save never leaves half a file.
        partial_path = f"{save_path}.partial"
        with self._fs.open(partial_path, mode="wb") as file:
            np.savez(file, **data)
        self._fs.mv(partial_path, save_path)
        self._fs.invalidate_cache(str(PurePosixPath(save_path).parent))

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "protocol": self._protocol, "version": self._version}

    def _exists(self) -> bool:
        try:
            load_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:  # a versioned dataset with no saved version yet
            return False
        return self._fs.exists(load_path)
