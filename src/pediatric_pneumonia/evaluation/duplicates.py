"""Test images that repeat another test image or a training image, byte for byte or pixel for pixel.

Two different files can decode to the same stored array (a re-encoded copy, a copy with other
metadata): those are as much a repeat for the model as byte-identical files.
"""

import hashlib

import numpy as np
import pandas as pd

DUPLICATE_COLUMNS = ["test_path", "other_path", "other_subset", "identical"]


def pixel_hashes(images: np.ndarray) -> np.ndarray:
    """A SHA-1 of each stored image's shape and pixels: equal exactly when the arrays are equal."""
    return np.array(
        [
            hashlib.sha1(str(image.shape).encode() + image.tobytes(), usedforsecurity=False).hexdigest()
            for image in images
        ]
    )


def find_duplicates(test: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    """Pairs of a test image and the image it repeats.

    Args:
        test: one row per test image, in test-set order: ``path``, ``content_hash`` (of the file's
            bytes), ``pixel_hash`` (of the stored array).
        train: the same columns for the training images.

    Returns:
        One row per pair: ``test_path``, ``other_path``, ``other_subset`` (``train`` or ``test``)
        and ``identical`` (``bytes`` when the files are equal, else ``pixels``). Within test,
        each copy is paired with the earlier copies only, so the first copy of a group never
        appears as ``test_path``: the ``test_path`` column is what to drop to count each test
        picture once and none that training saw.
    """
    test = test.assign(position=np.arange(len(test)), subset="test")
    reference = pd.concat([test, train.assign(position=-1, subset="train")], ignore_index=True)
    pairs = []
    for key in ("content_hash", "pixel_hash"):
        matched = test.merge(reference, on=key, suffixes=("", "_other"))
        repeats = (matched["subset_other"] == "train") | (matched["position_other"] < matched["position"])
        pairs.append(
            matched.loc[repeats, ["path", "path_other", "subset_other"]].set_axis(DUPLICATE_COLUMNS[:3], axis=1)
        )
    found = pd.concat(pairs, ignore_index=True).drop_duplicates(["test_path", "other_path"])
    content_of = dict(zip(reference["path"], reference["content_hash"]))
    same_bytes = found["test_path"].map(content_of) == found["other_path"].map(content_of)
    return found.assign(identical=np.where(same_bytes, "bytes", "pixels")).sort_values(
        ["other_subset", "test_path", "other_path"], ignore_index=True
    )
