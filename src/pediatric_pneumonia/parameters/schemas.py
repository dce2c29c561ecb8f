"""One schema per parameter group (and one per balancing method), and the file that sets each group.

Nodes type their ``params:`` inputs with these models: Kedro validates each group against its
schema before the first node runs and hands the node the validated object, defaults filled
(Kedro's parameter validation calls ``model_validate``, which answers with our messages).
"""

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..choices import (
    ARCHITECTURE_FAMILIES,
    ARCHITECTURE_SOURCES,
    CALIBRATION_METHODS,
    DIFF_AUGMENT_POLICIES,
    FAMILY_ONLY_KEYS,
    FEW_LABEL_POLICIES,
    GAN_LOSS_NAMES,
    GAN_OPTIMIZERS,
    GEOMETRY_METHODS,
    INTENSITY_METHODS,
    LEARNING_RATE_SCHEDULES,
    MIXUP_METHODS,
    PATIENT_AGGREGATIONS,
    SEARCH_BACKENDS,
    SHIFT_IDENTITY,
    STUDY_BACKENDS,
    THRESHOLD_METHODS,
    TTA_TRANSFORMS,
    VALIDATION_SIGNALS,
    better_direction,
)
from ..naming import PATIENT_KEYS, SUBTYPE_CLASSES
from ..strategies import STRATEGIES, STRATEGY_TABLE
from .errors import here as _key
from .errors import validated


class Group(BaseModel):
    """A parameter group: exact types (no silent conversion, the nodes get the values as written)
    and no unknown keys (a misspelt key would otherwise be ignored)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    @classmethod
    def model_validate(cls, obj: Any, *, context: dict | None = None, **options: Any) -> "Group":
        """``obj`` as this schema. Called without a context on a whole group (as Kedro's parameter
        validation does), a wrong value raises a ParameterError naming the group's key and file."""
        registered = next(((key, file) for key, (schema, file) in GROUPS.items() if schema is cls), None)
        if context is None and registered is not None:
            return validated(cls, *registered, obj)
        return super().model_validate(obj, context=context, **options)

    def plain(self) -> dict:
        """The values as the YAML would write them (defaults filled): for files and MLflow."""
        return self.model_dump(mode="json")

    def as_written(self) -> dict:
        """Only the keys the configuration set (no defaults added): values that validate again as
        they did (an architecture's family-only keys appear only where the family reads them) and
        that fingerprint a GAN checkpoint as before."""
        return self.model_dump(mode="json", exclude_unset=True)


PositiveInt = Annotated[int, Field(gt=0)]
Count = Annotated[int, Field(ge=0)]
PositiveNumber = Annotated[float, Field(gt=0)]
Probability = Annotated[float, Field(ge=0, le=1)]
OpenFraction = Annotated[float, Field(gt=0, lt=1)]
Momentum = Annotated[float, Field(ge=0, lt=1)]
NonNegative = Annotated[float, Field(ge=0)]
Name = Annotated[str, Field(min_length=1)]


# --- data -----------------------------------------------------------------------------------


class RawData(Group):
    root: Name
    splits: Annotated[list[Name], Field(min_length=1)]
    folders: Annotated[list[Name], Field(min_length=2)] = Field(description="a list of two or more class folder names")
    classes: Annotated[list[Name], Field(min_length=2)] = Field(
        description="a list of two or more class names, the positive class last"
    )

    @model_validator(mode="after")
    def _classes_come_from_folders_or_names(self) -> "RawData":
        unknown = [name for name in self.classes if name not in self.folders and name not in SUBTYPE_CLASSES]
        if unknown:
            raise ValueError(
                f"raw_data.classes {self.classes} names {unknown}, neither a folder of raw_data.folders {self.folders} nor a "
                f"pneumonia subtype read from the file names ({', '.join(SUBTYPE_CLASSES)})."
            )
        split = [folder for folder in self.folders if folder not in self.classes]
        if len(split) > 1 or (split and not any(name in SUBTYPE_CLASSES for name in self.classes)):
            raise ValueError(
                f"raw_data.folders {split} are not among raw_data.classes {self.classes}: every folder is a class, except "
                f"one pneumonia folder whose files are split by the subtype their names say ({', '.join(SUBTYPE_CLASSES)})."
            )
        return self


class Ingestion(Group):
    workers: PositiveInt
    patient_key: Literal[PATIENT_KEYS]


class Split(Group):
    validation_fraction: OpenFraction
    seed: int


class Intensity(Group):
    method: Literal[INTENSITY_METHODS]
    clahe_clip_limit: PositiveNumber
    clahe_tile_grid: Annotated[int, Field(ge=1)]
    percentiles: Annotated[list[float], Field(min_length=2, max_length=2)]

    @field_validator("percentiles")
    @classmethod
    def _ordered(cls, percentiles: list[float]) -> list[float]:
        low, high = percentiles
        if not 0 <= low < high <= 100:
            raise ValueError(
                f"{_key()} must be [low, high] with 0 <= low < high <= 100, got {percentiles}."
            )
        return percentiles


class Preprocessing(Group):
    image_size: PositiveInt
    workers: PositiveInt
    geometry: Literal[GEOMETRY_METHODS]
    border_crop: Annotated[float, Field(ge=0, lt=0.5)] = Field(description="a fraction of each side")
    intensity: Intensity


# --- balancing (one schema per method of the strategy table) ---------------------------------


class PaperAugmentation(Group):
    """The offline affine augmentation of the balancing methods (Keras' ImageDataGenerator's)."""

    rotation_range: NonNegative
    width_shift_range: NonNegative
    height_shift_range: NonNegative
    shear_range: NonNegative
    zoom_range: Annotated[float, Field(ge=0, lt=1)]


class NoBalancing(Group):
    pass


class SeededBalancing(Group):
    seed: int


class AugmentationBalancing(SeededBalancing):
    augmentation: PaperAugmentation


class CombinedBalancing(AugmentationBalancing):
    target_scale: Annotated[float, Field(ge=1)]
    synthetic_share: Probability

    @model_validator(mode="after")
    def _within_the_synthesis(self, info: ValidationInfo) -> "CombinedBalancing":
        # The synthesis makes (largest - smallest) images; this method needs share x (scale x largest -
        # smallest) of them, which is at least share x scale times the gap whatever the class counts.
        share, scale = self.synthetic_share, self.target_scale
        if share * scale > 1:
            strategy = (info.context or {})["key"].rsplit(".", 1)[0]
            raise ValueError(
                f"Strategy '{strategy}' would need more synthetic images than the synthesis makes: "
                f"synthetic_share x target_scale = {share} x {scale} = {share * scale:.3f} times the class gap "
                "(largest - smallest class) or more, and the synthesis makes exactly the gap. Lower "
                f"{_key('synthetic_share')} to at most {1 / scale:.3f} (or target_scale)."
            )
        return self


BALANCING_SCHEMAS: dict[str, type[Group]] = {
    "none": NoBalancing,
    "augmentation": AugmentationBalancing,
    "oversample": SeededBalancing,
    "synthetic": SeededBalancing,
    "synthetic_and_augmentation": CombinedBalancing,
}


# --- training, calibration, threshold, inference ---------------------------------------------


class Architecture(Group):
    """``training.architecture``. The paper's keys (conv_filters, kernel_size, pool_size, batch_norm)
    are read by the ``paper`` family only; batch_norm_momentum, dense_units, dropout_rates and
    learning_rate by every family. A family-specific key given for a family that
    does not read it is refused."""

    family: Literal[tuple(ARCHITECTURE_FAMILIES)] = "paper"
    conv_filters: Annotated[list[PositiveInt], Field(min_length=1)] = Field(
        description="a list of filter counts, one conv block each"
    )
    kernel_size: PositiveInt
    pool_size: PositiveInt
    batch_norm: bool
    batch_norm_momentum: Momentum
    dense_units: list[PositiveInt]
    dropout_rates: list[Momentum]
    learning_rate: PositiveNumber
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = 0.0
    weight_decay: NonNegative = 0.0  # AdamW's decoupled decay when > 0, else Adam
    width: PositiveInt = Field(32, description="a filter count (the residual stem's)")
    stochastic_depth: Momentum = Field(0.0, description="a drop rate (the last residual block's)")
    feature_dropout: Momentum = Field(0.2, description="a dropout rate")

    @model_validator(mode="after")
    def _one_rate_per_dense_layer(self) -> "Architecture":
        if len(self.dense_units) != len(self.dropout_rates):
            raise ValueError(
                f"{_key('dense_units')} {self.dense_units} and dropout_rates {self.dropout_rates} "
                "must have the same length (one dropout rate per dense layer)."
            )
        return self

    @model_validator(mode="after")
    def _keys_of_the_family(self) -> "Architecture":
        ignored = [key for key in sorted(self.model_fields_set & FAMILY_ONLY_KEYS.keys()) if self.family not in FAMILY_ONLY_KEYS[key]]
        if ignored:
            raise ValueError(
                f"{_key(ignored[0])} is not read by {_key('family')} '{self.family}' (only by "
                f"{sorted(FAMILY_ONLY_KEYS[ignored[0]])}): remove it or change the family."
            )
        return self



class EarlyStopping(Group):
    monitor: Literal[tuple(VALIDATION_SIGNALS)]
    patience: Count


class OnlineAugmentation(Group):
    """The online augmentation of every training batch (imaging/augment.py)."""

    enabled: bool
    rotation_range: NonNegative
    width_shift_range: NonNegative
    height_shift_range: NonNegative
    shear_range: NonNegative
    zoom_range: Annotated[float, Field(ge=0, lt=1)]
    brightness: NonNegative
    contrast: Annotated[float, Field(ge=0, lt=1)]
    gamma: NonNegative
    blur_sigma: NonNegative
    noise_std: NonNegative
    sharpen: NonNegative = 0.0  # unsharp-mask amount in [0, s], applied to every image after the blur
    marker_rate: Probability = 0.0  # share of images given 1-4 burned-in marks, whatever their class


class Mixup(Group):
    """Mixing of each training batch's images and labels (models/classifier_training.py)."""

    method: Literal[MIXUP_METHODS] = "none"
    alpha: PositiveNumber = 0.2  # Beta(alpha, alpha) draws the mixing share


class Ensemble(Group):
    members: PositiveInt = 1
    distill: bool = False  # true: the members teach one network of the same architecture, which is shipped


class Training(Group):
    seed: int
    epochs: PositiveInt
    batch_size: PositiveInt
    images_per_epoch: PositiveInt | None
    learning_rate_schedule: Literal[LEARNING_RATE_SCHEDULES]
    early_stopping: EarlyStopping
    architecture_from: Literal[ARCHITECTURE_SOURCES] = "parameters"
    architecture: Architecture
    augmentation: OnlineAugmentation
    mixup: Mixup = Mixup()
    ensemble: Ensemble = Ensemble()


class Calibration(Group):
    method: Literal[CALIBRATION_METHODS]
    bins: PositiveInt


class Threshold(Group):
    method: Literal[THRESHOLD_METHODS]
    value: Probability | None = Field(None, description="a probability")
    sensitivity_target: Annotated[float, Field(gt=0, le=1)] | None = None
    bootstrap_resamples: Annotated[int, Field(ge=0)] = 0  # 0: the method on validation as it is
    seed: int = 42

    @model_validator(mode="after")
    def _method_has_its_setting(self) -> "Threshold":
        needed = {"fixed": "value", "sensitivity_target": "sensitivity_target"}.get(self.method)
        if needed and getattr(self, needed) is None:
            raise ValueError(
                f"{_key('method')} '{self.method}' needs {_key(needed)} "
                f"(e.g. {0.5 if needed == 'value' else 0.95})."
            )
        return self


class TestTimeAugmentation(Group):
    transforms: list[Literal[tuple(TTA_TRANSFORMS)]] = Field(
        [], description="a list of distinct transforms (none: off)"
    )
    shift_fraction: Annotated[float, Field(gt=0, le=0.2)] = Field(0.03, description="a fraction of the side")
    zoom: Annotated[float, Field(gt=0, le=0.3)] = Field(0.05, description="a zoom step (scale 1 +- zoom)")

    @field_validator("transforms")
    @classmethod
    def _distinct(cls, transforms: list[str]) -> list[str]:
        if len(set(transforms)) != len(transforms):
            raise ValueError(f"{_key()} {transforms} must list distinct transforms (a repeat would weigh it twice).")
        return transforms


class Inference(Group):
    batch_size: PositiveInt
    tta: TestTimeAugmentation = TestTimeAugmentation()


# --- reports ----------------------------------------------------------------------------------


class Reporting(Group):
    bootstrap_resamples: PositiveInt
    bootstrap_seed: int
    confidence_level: OpenFraction
    patient_aggregation: Literal[PATIENT_AGGREGATIONS]


class Site(Group):
    min_images: PositiveInt
    few_labels: Literal[FEW_LABEL_POLICIES]
    max_interval_width: Annotated[float, Field(gt=0, le=1)]


class Stress(Group):
    seed: int
    max_images: Annotated[int, Field(ge=2)] | None
    severities: dict[str, list[float]]

    @field_validator("severities")
    @classmethod
    def _known_and_graded(cls, severities: dict[str, list[float]]) -> dict[str, list[float]]:
        for shift, magnitudes in severities.items():
            if shift not in SHIFT_IDENTITY:
                raise ValueError(f"Unknown shift '{shift}' in {_key()}. Use any of {tuple(SHIFT_IDENTITY)}.")
            distances = [abs(magnitude - SHIFT_IDENTITY[shift]) for magnitude in magnitudes]
            if not magnitudes or distances[0] == 0 or any(b <= a for a, b in zip(distances, distances[1:])):
                raise ValueError(
                    f"{_key()}.{shift} {magnitudes} must list magnitudes for severity 1, 2, ... "
                    f"moving steadily away from the identity ({SHIFT_IDENTITY[shift]}, severity 0)."
                )
        return severities


class Shift(Group):
    reference_size: Annotated[int, Field(ge=10)] = Field(description="validation images in the package's reference")
    seed: int
    permutations: Annotated[int, Field(ge=99)]
    alpha: OpenFraction
    max_images: Annotated[int, Field(ge=2)]
    neighbours: PositiveInt
    warning_percentile: Annotated[float, Field(gt=0, lt=100)] = Field(description="a percentile")

    @model_validator(mode="after")
    def _test_can_fire_and_neighbours_exist(self) -> "Shift":
        if self.alpha < 1 / (1 + self.permutations):
            raise ValueError(
                f"{_key('alpha')} {self.alpha} is below the smallest p-value {self.permutations} permutations can give "
                f"(1 / {self.permutations + 1}): raise {_key('permutations')} to at least {math.ceil(1 / self.alpha)}."
            )
        if self.neighbours >= self.reference_size:
            raise ValueError(f"{_key('neighbours')} ({self.neighbours}) must be below {_key('reference_size')} ({self.reference_size}).")
        return self


class Explain(Group):
    per_outcome: Count
    max_errors: Count
    seed: Count
    border_fraction: Annotated[float, Field(gt=0, lt=0.5)] = Field(description="a fraction of the side")
    layer: Name | None = Field(description="null (the last Conv2D) or a layer name such as 'conv_3'")
    alpha: Probability = Field(description="the heat map's opacity")
    contact_sheet_columns: Annotated[int, Field(ge=1)]
    randomisation_seed: Count


class Shortcuts(Group):
    strata: Annotated[int, Field(ge=2)]
    cv_folds: Annotated[int, Field(ge=2)]
    gradcam_images: Count
    seed: int


# --- synthesis --------------------------------------------------------------------------------


class GanGenerator(Group):
    base_filters: PositiveInt
    filters: Annotated[list[PositiveInt], Field(min_length=1)]
    strides: Annotated[list[PositiveInt], Field(min_length=1)]
    kernel_size: PositiveInt
    learning_rate: PositiveNumber
    ema: OpenFraction | None = Field(description="a momentum such as 0.999")

    @model_validator(mode="after")
    def _one_stride_per_layer(self) -> "GanGenerator":
        if len(self.filters) != len(self.strides):
            raise ValueError(f"{_key()}: generator filters and strides need the same length.")
        return self


class GanDiscriminator(Group):
    filters: Annotated[list[PositiveInt], Field(min_length=1)]
    strides: Annotated[list[PositiveInt], Field(min_length=1)]
    kernel_size: PositiveInt
    dropout: Momentum
    learning_rate: PositiveNumber
    spectral_norm: bool
    diff_augment: list[Literal[DIFF_AUGMENT_POLICIES]]


class GanProfile(Group):
    """One GAN profile of ``synthesis.profiles``: its size, schedule and method."""

    image_size: PositiveInt
    latent_dim: PositiveInt
    batch_size: PositiveInt
    iterations: PositiveInt
    log_every: PositiveInt
    checkpoint_every: PositiveInt
    loss: Literal[GAN_LOSS_NAMES]
    optimizer: Literal[GAN_OPTIMIZERS]
    beta_1: Momentum | None = None
    beta_2: Momentum | None = None
    generator: GanGenerator
    discriminator: GanDiscriminator

    @model_validator(mode="after")
    def _betas_go_with_adam(self) -> "GanProfile":
        betas = [name for name in ("beta_1", "beta_2") if getattr(self, name) is not None]
        if self.optimizer == "adam" and len(betas) < 2:
            raise ValueError(f"{_key()}: optimizer adam needs beta_1 and beta_2 in [0, 1), e.g. 0.0 and 0.9.")
        if self.optimizer != "adam" and betas:
            raise ValueError(f"{_key()}: {betas} are Adam's settings; remove them or set optimizer: adam.")
        return self


class Synthesis(Group):
    seed: int
    checkpoint_dir: Name
    profile: Name
    profiles: Annotated[dict[str, GanProfile], Field(min_length=1)]

    @model_validator(mode="after")
    def _profiles_can_train(self) -> "Synthesis":
        if self.profile not in self.profiles:
            raise ValueError(
                f"Unknown GAN profile '{self.profile}'. Use one of {sorted(self.profiles)} ({_key('profile')})."
            )
        for name, profile in self.profiles.items():
            upsampling = math.prod(profile.generator.strides)
            if profile.image_size % upsampling:
                raise ValueError(
                    f"GAN profile '{name}' ({_key('profiles')}.{name}): image_size {profile.image_size} cannot "
                    f"be produced by a generator whose strides {profile.generator.strides} upsample by {upsampling}. "
                    f"Use a multiple of {upsampling}."
                )
        return self


class SynthesisReport(Group):
    seed: int
    max_images: PositiveInt
    batch_size: PositiveInt
    nearest_k: PositiveInt
    memorization_percentile: Annotated[float, Field(gt=0, lt=100)]
    closest_pairs: PositiveInt
    grid_images: PositiveInt


# --- search and study -------------------------------------------------------------------------


class SearchSpace(Group):
    family: Annotated[list[Literal[tuple(ARCHITECTURE_FAMILIES)]], Field(min_length=1)] = ["paper"]
    conv_filters: Annotated[list[Annotated[list[PositiveInt], Field(min_length=1)]], Field(min_length=1)] = Field(
        description="a list of conv stacks, each a non-empty list of filter counts"
    )
    dense_units: Annotated[list[list[PositiveInt]], Field(min_length=1)]
    dropout_rates: Annotated[list[list[Momentum]], Field(min_length=1)]
    batch_norm: Annotated[list[bool], Field(min_length=1)]

    @model_validator(mode="after")
    def _every_head_pairs(self) -> "SearchSpace":
        lengths = {len(rates) for rates in self.dropout_rates}
        unpaired = [units for units in self.dense_units if units and len(units) not in lengths]
        if unpaired:
            raise ValueError(
                f"{_key('dense_units')} {unpaired} can never pair with a dropout list: dropout_rates "
                f"{self.dropout_rates} has no list of the same length (one rate per dense layer). "
                "Add dropout lists of that length or remove those dense options."
            )
        return self


class Asha(Group):
    grace_period: PositiveInt
    reduction_factor: Annotated[int, Field(ge=2)]


class RaySettings(Group):
    experiment: Name
    num_cpus: PositiveInt | None
    cpus_per_trial: PositiveNumber
    connect_timeout_s: PositiveNumber
    asha: Asha


class Search(Group):
    space: SearchSpace
    metric: Literal[tuple(VALIDATION_SIGNALS)]
    epochs: PositiveInt
    images_per_epoch: PositiveInt
    max_trials: PositiveInt | None
    seed: int
    backend: Literal[SEARCH_BACKENDS]
    storage_path: Name
    ray: RaySettings

    @property
    def mode(self) -> str:
        """``max`` or ``min``: the direction in which ``metric`` is better."""
        return better_direction(self.metric)


class Study(Group):
    seeds: PositiveInt
    reference_strategy: Literal[STRATEGIES]
    strategies: list[Literal[STRATEGIES]] | None = Field(description="a list of strategies (with the reference)")
    gan_profiles: Annotated[list[Name], Field(min_length=1)] | None = Field(
        description="a list of distinct GAN profiles of synthesis.profiles, e.g. [cpu, cpu_stable]"
    )
    retrain_gan_per_seed: bool
    bootstrap_resamples: PositiveInt
    bootstrap_seed: int
    confidence_level: OpenFraction
    significance_level: OpenFraction
    backend: Literal[STUDY_BACKENDS]
    cpus_per_job: PositiveNumber
    ray_connect_timeout_s: PositiveNumber
    workspace: Name = Field(description="the folder of the jobs' workspaces (e.g. data/09_study)")

    @model_validator(mode="after")
    def _reference_is_studied(self) -> "Study":
        if self.strategies is not None and self.reference_strategy not in self.strategies:
            raise ValueError(
                f"{_key('strategies')} {list(self.strategies)} leaves out the reference "
                f"'{self.reference_strategy}': add it, or set it to null."
            )
        if self.gan_profiles is not None and len(set(self.gan_profiles)) != len(self.gan_profiles):
            raise ValueError(f"{_key('gan_profiles')} {self.gan_profiles} must list distinct GAN profiles.")
        if self.gan_profiles is not None and STRATEGY_TABLE[self.reference_strategy].uses_synthetic_images:
            raise ValueError(
                f"{_key('reference_strategy')} '{self.reference_strategy}' uses synthetic images, so with "
                f"{_key('gan_profiles')} listed it is several models (one per profile). Use a reference "
                "without synthetic images (baseline), or set gan_profiles to null."
            )
        return self



# --- the groups -------------------------------------------------------------------------------

# Each group: its schema and the file that sets it. ``balancing`` has one schema per method
# (BALANCING_SCHEMAS), under each strategy's namespace.
GROUPS: dict[str, tuple[type[Group] | None, str]] = {
    "raw_data": (RawData, "conf/base/parameters.yml"),
    "ingestion": (Ingestion, "conf/base/parameters_ingestion.yml"),
    "split": (Split, "conf/base/parameters_preprocessing.yml"),
    "preprocessing": (Preprocessing, "conf/base/parameters_preprocessing.yml"),
    "balancing": (None, "conf/base/parameters_balancing.yml"),
    "synthesis": (Synthesis, "conf/base/parameters_synthesis.yml"),
    "synthesis_report": (SynthesisReport, "conf/base/parameters_synthesis.yml"),
    "training": (Training, "conf/base/parameters_training.yml"),
    "calibration": (Calibration, "conf/base/parameters_training.yml"),
    "threshold": (Threshold, "conf/base/parameters_training.yml"),
    "inference": (Inference, "conf/base/parameters_training.yml"),
    "reporting": (Reporting, "conf/base/parameters_reporting.yml"),
    "stress": (Stress, "conf/base/parameters_stress.yml"),
    "shift": (Shift, "conf/base/parameters_shift.yml"),
    "site": (Site, "conf/base/parameters_site.yml"),
    "explain": (Explain, "conf/base/parameters_explain.yml"),
    "shortcuts": (Shortcuts, "conf/base/parameters_shortcuts.yml"),
    "search": (Search, "conf/base/parameters_search.yml"),
    "study": (Study, "conf/base/parameters_study.yml"),
}
