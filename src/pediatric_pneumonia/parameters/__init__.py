"""The parameters: one schema per group (``schemas``), where each group lives (``registry``), the
messages a wrong value gets (``errors``) and the rules that span groups (``rules``).

Nodes type their ``params:`` inputs with the schemas and receive validated objects (Kedro's
parameter validation); ``ParameterValidationHook`` (hooks.py) checks what Kedro cannot see before
the first node runs (each strategy's balancing, rules across groups, a study's jobs).
``check_parameters("training", values)`` is the entry point for code that runs outside Kedro.

This package imports no model code (no Keras) and nothing of the project but ``choices``,
``naming`` and ``strategies``: the hooks and the CLI import it on every run.
"""

from .errors import OVERRIDE_NOTE, ParameterError
from .registry import (
    PER_STRATEGY_GROUPS,
    as_written,
    check_parameters,
    file_of,
    group_key,
    schema_of,
    shared_parameters,
)
from .rules import check_image_side, check_study_gan_profiles, smallest_image_side
from .schemas import (
    GROUPS,
    Architecture,
    Calibration,
    EarlyStopping,
    Ensemble,
    Explain,
    Group,
    Inference,
    Ingestion,
    Mixup,
    OnlineAugmentation,
    Preprocessing,
    RawData,
    RaySettings,
    Reporting,
    Search,
    Shift,
    Shortcuts,
    Site,
    Split,
    Stress,
    Study,
    Synthesis,
    SynthesisReport,
    Threshold,
    Training,
)

__all__ = [
    "GROUPS",
    "OVERRIDE_NOTE",
    "PER_STRATEGY_GROUPS",
    "Architecture",
    "Calibration",
    "EarlyStopping",
    "Ensemble",
    "Explain",
    "Group",
    "Inference",
    "Ingestion",
    "Mixup",
    "OnlineAugmentation",
    "ParameterError",
    "Preprocessing",
    "RawData",
    "RaySettings",
    "Reporting",
    "Search",
    "Shift",
    "Shortcuts",
    "Site",
    "Split",
    "Stress",
    "Study",
    "Synthesis",
    "SynthesisReport",
    "Threshold",
    "Training",
    "as_written",
    "check_image_side",
    "check_parameters",
    "check_study_gan_profiles",
    "file_of",
    "group_key",
    "schema_of",
    "shared_parameters",
    "smallest_image_side",
]
