"""What the public file names of the Kermany et al. dataset say (the patient and the pneumonia
subtype), and how synthetic images are named (the GAN profile that made them)."""

import re
from pathlib import Path

# Public file names carry the patient: personN_bacteria_M / personN_virus_M, IM-XXXX-YYYY and
# NORMAL2-IM-XXXX-YYYY (patient IM-XXXX / NORMAL2-IM-XXXX). A few public names carry one more
# number (IM-XXXX-YYYY-ZZZZ, personN_virus_M_K): same patient.
PATIENT_PATTERNS = (
    re.compile(r"^(?P<patient>person\d+)(?P<subtype>_(?:bacteria|virus))(?:_\d+)+$", re.IGNORECASE),
    re.compile(r"^(?P<patient>(?:NORMAL2-)?IM-\d+)(?:-\d+)+$", re.IGNORECASE),
)

# Who is a patient in personN_<subtype>_M names (ingestion.patient_key). The public numbering
# runs per subtype: personN_bacteria and personN_virus are different children (docs/get-the-data.md: "Who is a
# patient"), so "person_and_subtype" is the default; "person" is the stricter grouping.
PATIENT_KEYS = ("person_and_subtype", "person")

SUBTYPES = ("bacteria", "virus")
# The public folder of pneumonia images, whose files the subtype task splits by SUBTYPE_CLASSES.
PNEUMONIA = "PNEUMONIA"
# The class of each pneumonia subtype in the subtype task (raw_data.classes: [NORMAL, BACTERIA, VIRUS]).
SUBTYPE_CLASSES = {subtype.upper(): subtype for subtype in SUBTYPES}


def patient_id_from_filename(filename: str, patient_key: str = "person_and_subtype") -> str | None:
    """Return the patient encoded in a public file name, or None when the name is not public.

    With ``patient_key="person_and_subtype"`` ``person12_virus_3`` belongs to ``person12_virus``;
    with ``"person"`` to ``person12``.
    """
    stem = Path(filename).stem
    for pattern in PATIENT_PATTERNS:
        match = pattern.match(stem)
        if match:
            subtype = match.groupdict().get("subtype") or ""
            return match.group("patient") + (subtype.lower() if patient_key == "person_and_subtype" else "")
    return None


def subtype_from_path(path: str) -> str | None:
    """``bacteria`` or ``virus`` from a public pneumonia file name; None for any other name."""
    match = PATIENT_PATTERNS[0].match(Path(path).stem)
    return match.group("subtype").lstrip("_").lower() if match else None


def class_of_file(folder: str, path: str, classes: list[str]) -> str | None:
    """The task's class of a file in the class folder ``folder``: the folder itself when it is one of
    ``classes``; else the pneumonia subtype its public name says (``person3_virus_9`` -> ``VIRUS``)
    when that is one of ``classes``; None when the name says none."""
    if folder in classes:
        return folder
    subtype = subtype_from_path(path)
    return next((name for name, value in SUBTYPE_CLASSES.items() if value == subtype and name in classes), None)


# A synthetic image's path in an image set: "synthetic:<GAN profile>/<name>".
SYNTHETIC_PATH_PREFIX = "synthetic:"


def synthetic_image_path(gan_profile: str, name: str) -> str:
    """The image-set path of a synthetic image ``name`` made by the GAN of ``gan_profile``."""
    return f"{SYNTHETIC_PATH_PREFIX}{gan_profile}/{name}"


def synthetic_image_profiles(paths) -> list[str]:
    """The GAN profiles that made the synthetic images among ``paths``, in order of appearance."""
    return list(dict.fromkeys(
        str(path).removeprefix(SYNTHETIC_PATH_PREFIX).split("/", 1)[0]
        for path in paths
        if str(path).startswith(SYNTHETIC_PATH_PREFIX) and "/" in str(path)
    ))
