"""The values a parameter may take, where more than one layer needs them.

This module imports nothing: the parameter schemas (``parameters``) read it, and so do the
imaging, model and evaluation code that implements each value, so neither side imports the other.
"""

# preprocessing.intensity.method and preprocessing.geometry (imaging/preprocess.py implements them).
INTENSITY_METHODS = ("none", "histogram_equalisation", "clahe", "percentile_window")
GEOMETRY_METHODS = ("stretch", "pad")

# stress.severities: each shift of imaging/shifts.py and the magnitude that leaves an image unchanged
# (severity 0).
SHIFT_IDENTITY = {
    "brightness": 0.0,
    "contrast": 1.0,
    "gamma": 1.0,
    "blur": 0.0,
    "noise": 0.0,
    "jpeg": 100,
    "resolution": 1.0,
    "zoom": 1.0,
    "rotation": 0.0,
    "crop": 0.0,
    "markers": 0,
    "sharpen": 0.0,
}

# inference.tta.transforms (imaging/tta.py): each transform's axis ("y", "x" or "zoom") and the
# sign of its move.
TTA_TRANSFORMS = {
    "shift_up": ("y", -1),
    "shift_down": ("y", 1),
    "shift_left": ("x", -1),
    "shift_right": ("x", 1),
    "zoom_in": ("zoom", 1),
    "zoom_out": ("zoom", -1),
}

# synthesis.profiles.<name>.diff_augment (imaging/diff_augment.py).
DIFF_AUGMENT_POLICIES = ("color", "translation", "cutout")

# calibration.method, threshold.method, reporting.patient_aggregation (evaluation/).
CALIBRATION_METHODS = ("temperature", "none")
THRESHOLD_METHODS = ("youden", "fixed", "sensitivity_target")
PATIENT_AGGREGATIONS = ("mean", "max")
# site.few_labels (inference/recalibration.py): what recalibrate does with the temperature below
# site.min_images labelled images.
FEW_LABEL_POLICIES = ("threshold_only", "shrink", "refit", "refuse")

# training.architecture.family -> the smallest image side it takes (None: the paper CNN's depends on
# its blocks). models/architectures.py has one builder per name.
ARCHITECTURE_FAMILIES: dict[str, int | None] = {
    "paper": None,
    "residual": 1,
    "densenet121": 32,  # keras.applications refuse inputs under 32 x 32
    "efficientnetv2b0": 32,
    "mobilenetv3small": 32,
    "resnet50v2": 32,
}
# The architecture keys only some families read -> those families (refused for the others).
FAMILY_ONLY_KEYS: dict[str, tuple[str, ...]] = {
    "width": ("residual",),
    "stochastic_depth": ("residual",),
    "feature_dropout": tuple(family for family in ARCHITECTURE_FAMILIES if family != "paper"),
}
ARCHITECTURE_SOURCES = ("parameters", "search")  # training.architecture_from
LEARNING_RATE_SCHEDULES = ("constant", "cosine")
MIXUP_METHODS = ("none", "mixup", "cutmix")  # training.mixup.method
GAN_LOSS_NAMES = ("bce", "hinge")
GAN_OPTIMIZERS = ("rmsprop", "adam")
STUDY_BACKENDS = ("sequential", "ray")
SEARCH_BACKENDS = ("auto", "sequential", "ray")  # auto: Ray Tune when installed

# The validation signals that early stopping and the search may follow (Keras' names), each with
# the direction that is better: the one place that direction is decided.
VALIDATION_SIGNALS = {"val_loss": "min", "val_auc": "max"}


def better_direction(signal: str) -> str:
    """``max`` or ``min``: which way ``signal`` (a key of ``VALIDATION_SIGNALS``) improves."""
    return VALIDATION_SIGNALS[signal]
