import numpy as np
import pandas as pd

from pediatric_pneumonia.evaluation.duplicates import find_duplicates, pixel_hashes


def images(*fills: int) -> np.ndarray:
    """4x4 uint8 images, each one flat gray level with a marker pixel."""
    stack = np.zeros((len(fills), 4, 4), dtype=np.uint8)
    for index, fill in enumerate(fills):
        stack[index] = fill
        stack[index, 0, 0] = 255 - fill
    return stack


def frame(paths: list[str], content_hashes: list[str], pixels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"path": paths, "content_hash": content_hashes, "pixel_hash": pixel_hashes(pixels)})


def test_equal_arrays_share_a_pixel_hash_and_one_pixel_apart_do_not():
    stack = images(10, 10, 20)
    changed = stack[1].copy()
    changed[3, 3] += 1
    hashes = pixel_hashes(np.concatenate([stack, changed[np.newaxis]]))
    assert hashes[0] == hashes[1]
    assert len(set(hashes[1:])) == 3


def test_byte_and_pixel_identical_repeats_within_test_and_of_training_are_found():
    # t0 unique; t1 = t2 byte for byte; t3 re-encoded (other bytes) but decodes to t1's pixels;
    # t4 byte-identical to train image r0; t5 pixel-identical to r1 with other bytes.
    test = frame(
        ["t0", "t1", "t2", "t3", "t4", "t5"],
        ["h0", "h1", "h1", "h3", "h4", "h5"],
        images(0, 1, 1, 1, 4, 5),
    )
    train = frame(["r0", "r1", "r2"], ["h4", "x5", "x9"], images(4, 5, 9))

    found = find_duplicates(test, train)

    assert list(found.columns) == ["test_path", "other_path", "other_subset", "identical"]
    assert set(map(tuple, found.to_numpy())) == {
        ("t2", "t1", "test", "bytes"),
        ("t3", "t1", "test", "pixels"),
        ("t3", "t2", "test", "pixels"),
        ("t4", "r0", "train", "bytes"),
        ("t5", "r1", "train", "pixels"),
    }
    # The first copy of a test group (t1) stays; the unique image is never listed.
    assert set(found["test_path"]) == {"t2", "t3", "t4", "t5"}


def test_no_duplicates_gives_an_empty_table_with_the_columns():
    found = find_duplicates(frame(["t0"], ["h0"], images(0)), frame(["r0"], ["h1"], images(1)))
    assert found.empty
    assert list(found.columns) == ["test_path", "other_path", "other_subset", "identical"]
