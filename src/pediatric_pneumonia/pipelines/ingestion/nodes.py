"""Scan the raw dataset folder into a manifest: one row per file, with what is wrong with it."""

import hashlib
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ...data_layout import RawDataLayoutError, expected_layout, locate_layout_root
from ...imaging.decode import DEFAULT_MAX_PIXELS, find_file_problem, read_image_header
from ...naming import class_of_file, patient_id_from_filename
from ...parameters import Ingestion, RawData

logger = logging.getLogger(__name__)

# Training images are the public dataset's JPEGs (and PNG copies); other formats are for prediction.
INGESTED_FORMATS = ("jpeg", "png")

MANIFEST_COLUMNS = [
    "path",
    "split",
    "label",
    "patient_id",
    "size_bytes",
    "width",
    "height",
    "channels",
    "content_hash",
    "status",
    "reason",
]


def inspect_image_file(path: Path) -> dict:
    """Read one file and describe it: size, content hash, image geometry and whether it is usable."""
    content = path.read_bytes()
    record = {
        "size_bytes": len(content),
        # A content fingerprint to find identical files, not a security measure.
        "content_hash": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
        "width": None,
        "height": None,
        "channels": None,
    }
    problem = find_file_problem(content, INGESTED_FORMATS)
    if problem is None:
        try:
            record["width"], record["height"], record["channels"] = read_image_header(content)
        except ValueError as error:
            problem = str(error)
    if problem is None and record["width"] * record["height"] > DEFAULT_MAX_PIXELS:
        # Preprocessing would refuse to decode it; reject it here, where rejections are reported.
        problem = f"too large ({record['width']}x{record['height']} pixels, limit {DEFAULT_MAX_PIXELS:,})"
    record["status"] = "ok" if problem is None else "rejected"
    record["reason"] = problem or ""
    return record


def manifest_row(path: Path, split: str, folder: str, record: dict, classes: list[str], patient_key: str) -> dict:
    """One file's manifest row: its task class (``naming.class_of_file``) as ``label``. A file whose
    class its name does not say (a pneumonia file without ``_bacteria_`` / ``_virus_`` under the
    subtype task) is rejected with that reason, under its folder's name."""
    label = class_of_file(folder, path.name, classes)
    row = {
        "path": str(path),
        "split": split,
        "label": label or folder,
        "patient_id": patient_id_from_filename(path.name, patient_key),
        **record,
    }
    if label is None and row["status"] == "ok":
        row["status"] = "rejected"
        row["reason"] = (
            f"its name says no pneumonia subtype (personN_bacteria_M or personN_virus_M), which raw_data.classes "
            f"{classes} needs for the files of {folder}/"
        )
    return row


def build_image_manifest(raw_data: RawData, ingestion: Ingestion) -> pd.DataFrame:
    """Scan ``raw_data.root`` into one row per file of every split/class folder.

    Unusable files stay in the manifest with ``status == "rejected"`` and a reason, so nothing is
    silently dropped; the rest of the pipeline only reads rows whose status is ``ok``.
    """
    splits, folders = raw_data.splits, raw_data.folders
    layout_root = locate_layout_root(raw_data.root, splits, folders).resolve()
    located = [
        (path, split, folder)
        for split in splits
        for folder in folders
        for path in sorted((layout_root / split / folder).iterdir())
        if path.is_file()
    ]
    with ThreadPoolExecutor(max_workers=ingestion.workers) as pool:
        records = list(
            tqdm(
                pool.map(inspect_image_file, (path for path, _, _ in located)),
                total=len(located),
                desc="Inspecting raw images",
                unit="file",
            )
        )
    rows = [
        manifest_row(path, split, folder, record, raw_data.classes, ingestion.patient_key)
        for (path, split, folder), record in zip(located, records)
    ]
    manifest = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    _fill_unknown_patients(manifest)
    rejected = int((manifest["status"] == "rejected").sum())
    logger.info(
        "Found %d files under '%s': %d usable images, %d rejected (see rejected_files).",
        len(manifest),
        layout_root,
        len(manifest) - rejected,
        rejected,
    )
    if manifest["status"].eq("ok").sum() == 0:
        raise RawDataLayoutError(
            f"No usable image under '{layout_root}'. Expected layout:\n"
            f"{expected_layout(splits, folders)}"
        )
    return manifest


def _fill_unknown_patients(manifest: pd.DataFrame) -> None:
    """Give each file whose name carries no patient a group of its own, and warn once."""
    unknown = manifest["patient_id"].isna() & manifest["status"].eq("ok")
    if unknown.any():
        examples = [Path(path).name for path in manifest.loc[unknown, "path"].head(3)]
        logger.warning(
            "%d image names do not follow the public naming (e.g. %s): each becomes its own "
            "patient group, so patient-disjoint splitting cannot see their real patient.",
            int(unknown.sum()),
            examples,
        )
    manifest["patient_id"] = manifest["patient_id"].fillna(
        "file:" + manifest["split"] + "/" + manifest["label"] + "/" + manifest["path"].map(
            lambda path: Path(path).name
        )
    )


def select_rejected_files(image_manifest: pd.DataFrame) -> pd.DataFrame:
    """The rejected-files report: every file that is not a usable image, with the reason."""
    rejected = image_manifest.loc[
        image_manifest["status"] == "rejected", ["path", "split", "label", "size_bytes", "reason"]
    ].reset_index(drop=True)
    if len(rejected):
        logger.warning("Skipped %d unusable files: %s", len(rejected), rejected["reason"].value_counts().to_dict())
    return rejected


def find_split_leakage(image_manifest: pd.DataFrame) -> pd.DataFrame:
    """Report byte-identical images that appear in more than one split (train, val, test)."""
    usable = image_manifest[image_manifest["status"] == "ok"]
    splits_per_hash = usable.groupby("content_hash")["split"].nunique()
    leaked_hashes = splits_per_hash[splits_per_hash > 1].index
    leakage = (
        usable[usable["content_hash"].isin(leaked_hashes)]
        .sort_values(["content_hash", "split", "path"])
        .loc[:, ["content_hash", "split", "label", "patient_id", "path"]]
        .reset_index(drop=True)
    )
    if len(leaked_hashes):
        logger.warning(
            "%d images are byte-identical across splits (see split_leakage).", len(leaked_hashes)
        )
    return leakage
