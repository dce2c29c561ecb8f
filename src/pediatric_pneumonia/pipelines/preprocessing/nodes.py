"""Patient-disjoint splitting and decoding of the usable images into compact uint8 arrays."""

import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...imaging.preprocess import load_grayscale_image
from ...parameters import Preprocessing, Split

logger = logging.getLogger(__name__)

SUBSETS = ("train", "validation", "test")


class PatientLeakageError(ValueError):
    """A patient has images in more than one of train, validation and test."""


def assign_subsets(image_manifest: pd.DataFrame, split: Split) -> pd.DataFrame:
    """Assign every usable image to train, validation or test, keeping patients on one side.

    - The public ``test`` split stays the test subset, untouched.
    - Patients of the public ``val`` folder go to validation with all their train images.
    - Validation is topped up with whole train patients, drawn at random per class, until it
      holds ``validation_fraction`` of each class's train images (class-stratified).
    - Train images of a patient who is also in the test split are dropped (the test split is
      fixed), with a warning.

    Raises:
        PatientLeakageError: if a patient still ends up in two subsets.
    """
    usable = image_manifest[image_manifest["status"] == "ok"].copy()
    test_patients = set(usable.loc[usable["split"] == "test", "patient_id"])
    in_test = (usable["split"] != "test") & usable["patient_id"].isin(test_patients)
    if in_test.any():
        logger.warning(
            "Dropping %d train/val images of %d patients who are also in the test split.",
            int(in_test.sum()),
            usable.loc[in_test, "patient_id"].nunique(),
        )
        usable = usable[~in_test]

    usable["subset"] = np.where(usable["split"] == "test", "test", "train")
    val_patients = set(usable.loc[usable["split"] == "val", "patient_id"])
    usable.loc[usable["patient_id"].isin(val_patients), "subset"] = "validation"

    rng = np.random.default_rng(split.seed)
    candidates = usable[usable["split"] == "train"]
    for label, class_images in candidates.groupby("label"):
        wanted = split.validation_fraction * len(class_images)
        already = (usable["subset"].eq("validation") & usable["label"].eq(label)).sum()
        patients = class_images.loc[class_images["subset"] == "train", "patient_id"].unique()
        images_per_patient = class_images.groupby("patient_id").size()
        chosen = []
        for patient in rng.permutation(np.sort(patients)):
            if already >= wanted:
                break
            chosen.append(patient)
            already += images_per_patient[patient]
        usable.loc[usable["patient_id"].isin(chosen), "subset"] = "validation"

    assert_patient_disjoint(usable)
    counts = usable.groupby(["subset", "label"]).size().unstack(fill_value=0)
    logger.info("Images per subset and class:\n%s", counts.to_string())
    return usable.reset_index(drop=True)


def assert_patient_disjoint(image_split: pd.DataFrame) -> None:
    """Fail loudly if any patient appears in more than one subset."""
    subsets_per_patient = image_split.groupby("patient_id")["subset"].nunique()
    shared = subsets_per_patient[subsets_per_patient > 1]
    if len(shared):
        raise PatientLeakageError(
            f"{len(shared)} patients appear in more than one of train/validation/test, "
            f"e.g. {list(shared.index[:5])}. Validation and test scores would be optimistic. "
            "Check the raw split folders and the patient ids in image_manifest."
        )


def decode_images(rows: pd.DataFrame, preprocessing: Preprocessing, desc: str) -> np.ndarray:
    """Decode the images of ``rows`` on ``preprocessing.workers`` threads into an ``(N, size, size)``
    uint8 array (cropped and made square as ``preprocessing`` says; intensity is normalised later,
    when the model is fed)."""
    size = preprocessing.image_size
    images = np.empty((len(rows), size, size), dtype=np.uint8)

    def decode_into(index_and_row: tuple[int, str]) -> None:
        index, path = index_and_row
        images[index] = load_grayscale_image(path, preprocessing.plain())

    work = enumerate(rows["path"])
    with ThreadPoolExecutor(max_workers=preprocessing.workers) as pool:
        for _ in tqdm(pool.map(decode_into, work), total=len(rows), desc=desc, unit="image"):
            pass
    return images


def build_image_sets(
    image_split: pd.DataFrame, classes: list[str], preprocessing: Preprocessing
) -> tuple[dict, dict, dict]:
    """Decode each subset into ``{"images": uint8 (N, H, W), "labels": uint8 (N,), "paths": str (N,)}``.

    Pixels stay uint8 (0-255) on disk; the model scales them to [0, 1] itself.
    Labels are the index of the class name in ``classes``.
    """
    image_sets = []
    for subset in SUBSETS:
        rows = image_split[image_split["subset"] == subset]
        missing = sorted(set(classes) - set(rows["label"]))
        if missing:
            raise ValueError(
                f"The {subset} subset has no {missing} image: a classifier cannot be trained or "
                f"evaluated on it. Add images to those class folders, or lower "
                "split.validation_fraction if validation came out empty."
            )
        image_sets.append(
            {
                "images": decode_images(rows, preprocessing, f"Decoding {subset}"),
                "labels": rows["label"].map(classes.index).to_numpy(dtype=np.uint8),
                "paths": rows["path"].to_numpy(dtype=str),
            }
        )
    return tuple(image_sets)
