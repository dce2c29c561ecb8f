import numpy as np
import pytest
from kedro.io import DatasetError, Version

from pediatric_pneumonia.datasets import NpzDataset


def test_npz_round_trip_keeps_dtypes_and_strings(tmp_path):
    dataset = NpzDataset(filepath=str(tmp_path / "sets" / "train_set.npz"))
    data = {
        "images": np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4),
        "labels": np.array([0, 1], dtype=np.uint8),
        "paths": np.array(["/a.jpeg", "augmented:/b.jpeg"]),
    }
    assert not dataset.exists()
    dataset.save(data)
    loaded = dataset.load()

    assert dataset.exists()
    assert set(loaded) == set(data)
    for name, array in data.items():
        np.testing.assert_array_equal(loaded[name], array)
        assert loaded[name].dtype == array.dtype
    assert not list((tmp_path / "sets").glob("*.partial"))


def test_versioned_npz_never_overwrites(tmp_path):
    path = str(tmp_path / "set.npz")
    NpzDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save({"x": np.zeros(1)})
    NpzDataset(filepath=path, version=Version(None, "2026-01-02T00.00.00.000Z")).save({"x": np.ones(1)})

    assert NpzDataset(filepath=path, version=Version(None, None)).load()["x"][0] == 1
    assert NpzDataset(filepath=path, version=Version("2026-01-01T00.00.00.000Z", None)).load()["x"][0] == 0
    with pytest.raises(DatasetError):
        NpzDataset(filepath=path, version=Version(None, "2026-01-01T00.00.00.000Z")).save({"x": np.ones(1)})


def test_object_arrays_are_refused_on_load(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DatasetError, match="allow_pickle"):
        NpzDataset(filepath=str(path)).load()
