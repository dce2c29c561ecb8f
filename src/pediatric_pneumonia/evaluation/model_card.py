"""The model card's sections in Markdown, each a list of lines built from a run's outputs (the
test report, the calibration, the threshold, the stress summary, the image split)."""

import pandas as pd

from ..choices import better_direction
from ..naming import SUBTYPES
from ..parameters import Architecture, Preprocessing, Reporting, Training
from .multiclass import pair_name, subtype_pair
from .report import PAPER_THRESHOLD

# Headline test metrics in the order the card lists them.
TEST_METRICS = ("accuracy", "sensitivity", "specificity", "precision", "f1", "roc_auc", "pr_auc")
SUBSETS = ("train", "validation", "test")
# Metrics that do not depend on the threshold: the 0.5 column repeats them.
THRESHOLD_FREE_METRICS = ("roc_auc", "pr_auc")
NOT_AVAILABLE = "n/a"

LIMITATIONS = (
    "Single-site data: every image comes from the Kermany et al. chest X-ray set of one hospital "
    "(Guangzhou Women and Children's Medical Center, Guangzhou, China).",
    "Pediatric patients aged 1 to 5 years only: the model says nothing about older children or adults.",
    "Acquisition shift: another scanner, clinic, exposure or year changes the images (see the stress "
    "summary); performance elsewhere is unknown until measured there.",
    "Labels come from reading the images (expert graders), not from laboratory tests or clinical "
    "follow-up, so they carry the graders' errors.",
    "Not validated prospectively: every figure here is retrospective, on images already collected.",
    "Grad-CAM heat maps show where the model looked, not why: they are not proof that it used "
    "clinically meaningful findings.",
)


def _number(value: float | int | None) -> str:
    """One format for every figure: counts with thousands separators, other values to 3 decimals."""
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{float(value):.3f}"


def _listing(values: list) -> str:
    """``32, 64`` for a list of layer sizes, ``none`` for an empty one."""
    return ", ".join(str(value) for value in values) or "none"


def _bounds(metrics: dict, name: str) -> str | None:
    """``<low> to <high>``, the interval the report gives ``name``, or None when it gives none."""
    low, high = metrics.get(f"{name}_ci_low"), metrics.get(f"{name}_ci_high")
    return None if low is None or high is None else f"{_number(low)} to {_number(high)}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def data_section(image_split: pd.DataFrame, classes: list[str], patient_key: str) -> list[str]:
    counts = image_split.groupby(["subset", "label"]).agg(images=("path", "size"), patients=("patient_id", "nunique"))
    rows = []
    for subset in SUBSETS:
        cells = [
            _number(int(counts.loc[(subset, name), kind])) if (subset, name) in counts.index else "0"
            for name in classes
            for kind in ("images", "patients")
        ]
        rows.append([subset, *cells])
    shared_patients = int((image_split.groupby("patient_id")["subset"].nunique() > 1).sum())
    header = ["subset", *(f"{name} {kind}" for name in classes for kind in ("images", "patients"))]
    return [
        "## Data and patients",
        "",
        *_table(header, rows),
        "",
        f"Subsets are patient-disjoint: every image of a patient is in one subset only (patients found in "
        f"more than one subset: {shared_patients}). The public test split is the test subset, untouched; "
        "validation is carved out of the public train split, whole patients at a time. The patient is read "
        f"from the file name with the patient key `{patient_key}`.",
        "",
    ]


def _output(classes: list[str]) -> str:
    """The output layer in words: one sigmoid unit for two classes, a softmax over K."""
    return "one sigmoid output" if len(classes) == 2 else f"a softmax output over the {len(classes)} classes"


def training_section(
    strategy: str,
    training: Training,
    preprocessing: Preprocessing,
    training_history: dict[str, list[float]],
    classes: list[str],
) -> list[str]:
    architecture = training.architecture
    stopping = training.early_stopping
    monitored = training_history.get(stopping.monitor, [])
    best = None
    if monitored:
        choose = max if better_direction(stopping.monitor) == "max" else min
        best = monitored.index(choose(monitored)) + 1
    side = preprocessing.image_size
    return [
        "## Training protocol",
        "",
        f"- Balancing strategy: `{strategy}` (only the training subset is balanced).",
        f"- Architecture: {_network(architecture)}, hidden dense layers {_listing(architecture.dense_units)}, "
        f"{_output(classes)}{_ensemble(training)}; input {side}x{side} grayscale, intensity normalisation "
        f"`{preprocessing.intensity.method}`.",
        f"- Optimiser: {_optimiser(architecture)}, learning rate {architecture.learning_rate} "
        f"({training.learning_rate_schedule} schedule), batch size {training.batch_size}, online augmentation "
        f"{'on' if training.augmentation.enabled else 'off'}, {_regularisation(training)}seed {training.seed}.",
        f"- Epochs run: {len(training_history.get('loss', []))} of at most {training.epochs}; early stopping "
        f"on `{stopping.monitor}` (patience {stopping.patience}) kept the weights of epoch "
        f"{best if best is not None else NOT_AVAILABLE}.",
        "- Model selection, probability calibration and the decision threshold used the validation subset "
        "only. The test subset was read once, by the report, after all of them were fixed.",
        "",
    ]


def _network(architecture: Architecture) -> str:
    """The family's network in words (``training.architecture.family``, models/architectures.py)."""
    if architecture.family == "paper":
        return (
            f"the paper's CNN, convolution blocks of {_listing(architecture.conv_filters)} filters (kernel "
            f"{architecture.kernel_size}, max-pooling {architecture.pool_size}, batch normalisation "
            f"{'on' if architecture.batch_norm else 'off'})"
        )
    if architecture.family == "residual":
        stages = _listing([architecture.width * 2**stage for stage in range(4)])
        return (
            f"a compact residual network (four stages of {stages} filters, stochastic depth "
            f"{architecture.stochastic_depth}), global average pooling, feature dropout {architecture.feature_dropout}"
        )
    return (
        f"Keras' `{architecture.family}` from scratch (no pretrained weights), global average pooling, feature dropout "
        f"{architecture.feature_dropout}"
    )


def _ensemble(training: Training) -> str:
    members = training.ensemble.members
    if members == 1:
        return ""
    if training.ensemble.distill:
        return f", distilled from a seed ensemble of {members} such networks (trained on their mean probability)"
    return f", a seed ensemble of {members} such networks (mean logit)"


def _optimiser(architecture: Architecture) -> str:
    weight_decay = architecture.weight_decay
    return f"AdamW (weight decay {weight_decay})" if weight_decay > 0 else "Adam"


def _regularisation(training: Training) -> str:
    """The label smoothing and batch mixing in use, as the start of a listing ("" when neither)."""
    smoothing = training.architecture.label_smoothing
    mixup = training.mixup
    used = []
    if smoothing > 0:
        used.append(f"label smoothing {smoothing}")
    if mixup.method != "none":
        used.append(f"{mixup.method} (alpha {mixup.alpha})")
    return "".join(f"{item}, " for item in used)


def validation_section(calibration: dict, decision_threshold: dict) -> list[str]:
    rows = [
        [
            name,
            _number(calibration.get(f"validation_{key}_before")),
            _number(calibration.get(f"validation_{key}_after")),
        ]
        for name, key in (
            ("expected calibration error (ECE)", "ece"),
            ("negative log-likelihood", "nll"),
            ("Brier score", "brier"),
        )
    ]
    resampled = (
        f", the median over {decision_threshold['bootstrap_resamples']} resamples of validation; 5th-95th percentile "
        f"{_number(decision_threshold['threshold_interval'][0])}-{_number(decision_threshold['threshold_interval'][1])}"
        if "threshold_interval" in decision_threshold
        else ""
    )
    return [
        "## Validation: calibration and operating point",
        "",
        f"- Decision threshold: {_number(decision_threshold['threshold'])} (method `{decision_threshold['method']}`, "
        f"chosen on calibrated validation probabilities{resampled}).",
        f"- Validation sensitivity {_number(decision_threshold['validation_sensitivity'])}, specificity "
        f"{_number(decision_threshold['validation_specificity'])} at that threshold.",
        f"- Validation ROC-AUC {_number(decision_threshold.get('validation_roc_auc'))} (what the model registry's "
        "`@best` alias ranks versions by).",
        f"- Calibration: `{calibration['method']}`, temperature {_number(calibration['temperature'])}.",
        *(
            [
                f"- Label: the most probable class; validation accuracy {_number(decision_threshold['validation_accuracy'])}, "
                f"macro one-vs-rest ROC-AUC {_number(decision_threshold.get('validation_macro_roc_auc'))}; the threshold "
                "above answers the binary question on P(pneumonia)."
            ]
            if decision_threshold.get("rule") == "argmax"
            else []
        ),
        "",
        *_table(["validation score", "before calibration", "after calibration"], rows),
        "",
    ]


def test_section(test_metrics: dict, reporting: Reporting) -> list[str]:
    level = f"{reporting.confidence_level:.0%}"

    rows = [
        [
            name,
            _number(test_metrics.get(name)),
            _bounds(test_metrics, name) or NOT_AVAILABLE,
            _number(test_metrics.get(name if name in THRESHOLD_FREE_METRICS else f"{name}_at_{PAPER_THRESHOLD}")),
            _number(test_metrics.get(f"patient_{name}")),
            _number(test_metrics.get(f"{name}_without_duplicates")),
        ]
        for name in TEST_METRICS
    ]
    counts = ", ".join(f"{name} {_number(count)}" for name, count in test_metrics["class_counts"].items())
    subtypes = "; ".join(
        f"{subtype}: {_number(test_metrics.get(f'sensitivity_{subtype}'))} "
        f"({_number(test_metrics.get(f'n_images_{subtype}', 0))} images)"
        for subtype in SUBTYPES
    )
    return [
        "## Test metrics",
        "",
        f"{_number(test_metrics['n_images'])} test images ({counts}) from {_number(test_metrics['n_patients'])} "
        f"patients, at the validation threshold {_number(test_metrics['threshold'])}. The {level} intervals come "
        f"from {_number(reporting.bootstrap_resamples)} bootstrap resamples of patients (stratified by class).",
        "",
        *_table(
            [
                "metric",
                "value",
                f"{level} interval",
                f"at threshold {PAPER_THRESHOLD}",
                f"per patient ({reporting.patient_aggregation})",
                "without duplicates",
            ],
            rows,
        ),
        "",
        f"{NOT_AVAILABLE}: not in the report (undefined on these images). ROC-AUC and PR-AUC do not depend on "
        "the threshold.",
        "",
        f"- Test images repeating a training image: {_number(test_metrics.get('n_test_duplicates_of_train'))}; "
        f"repeating an earlier test image: {_number(test_metrics.get('n_test_duplicates_within_test'))}.",
        f"- Sensitivity per pneumonia subtype: {subtypes}.",
        f"- Test calibration (ECE) before / after: {_number(test_metrics.get('test_ece_before'))} / "
        f"{_number(test_metrics.get('test_ece_after'))}.",
        "",
    ]


def three_class_section(test_metrics: dict, classes: list[str], reporting: Reporting) -> list[str]:
    """A K-class model's test figures (``evaluation.multiclass``): the headline figures with their
    intervals, per-class recall, precision, F1 and one-vs-rest ROC-AUC, and the confusion matrix.
    Empty for a two-class model."""
    if len(classes) == 2:
        return []
    level = f"{reporting.confidence_level:.0%}"

    def with_interval(name: str) -> str:
        bounds = _bounds(test_metrics, name)
        return _number(test_metrics.get(name)) + (f" ({level}: {bounds})" if bounds else "")

    pair = subtype_pair(classes)
    per_class = [
        [name, *(_number(test_metrics.get(f"{figure}_{name}")) for figure in ("recall", "precision", "f1", "roc_auc"))]
        for name in classes
    ]
    matrix = test_metrics.get("multiclass_confusion_matrix", [])
    return [
        f"## Test metrics: {len(classes)} classes",
        "",
        "The label is the most probable class (argmax of the calibrated probabilities).",
        "",
        f"- Accuracy {with_interval('multiclass_accuracy')}; per patient "
        f"{_number(test_metrics.get('patient_multiclass_accuracy'))}.",
        f"- Macro one-vs-rest ROC-AUC {with_interval('multiclass_macro_roc_auc')}; macro F1 "
        f"{_number(test_metrics.get('multiclass_macro_f1'))}, weighted F1 {_number(test_metrics.get('multiclass_weighted_f1'))}.",
        f"- {pair[0]} vs {pair[1]} ROC-AUC on their images: {_number(test_metrics.get(f'{pair_name(pair)}_roc_auc'))}.",
        f"- Calibration (negative log-likelihood) before / after: {_number(test_metrics.get('test_multiclass_nll_before'))} / "
        f"{_number(test_metrics.get('test_multiclass_nll_after'))}; top-label ECE after "
        f"{_number(test_metrics.get('test_multiclass_ece_after'))}.",
        "",
        *_table(["class", "recall (sensitivity)", "precision", "F1", "one-vs-rest ROC-AUC"], per_class),
        "",
        "Confusion matrix (rows: true class, columns: predicted class):",
        "",
        *_table(["true \\ predicted", *classes], [[name, *map(_number, row)] for name, row in zip(classes, matrix)]),
        "",
    ]


def stress_section(stress_metrics: dict | None) -> list[str]:
    header = ["## Stress summary (acquisition shifts)", ""]
    clean_keys = [key for key in (stress_metrics or {}) if key.endswith("_clean")]
    if not clean_keys:
        return [
            *header,
            "No stress report was given for this model: its behaviour under shifted images is unmeasured.",
            "",
        ]
    rows = []
    for key in clean_keys:
        stem = key.removesuffix("_clean")
        set_name, metric = stem.split(".", 1)
        rows.append(
            [
                set_name,
                metric,
                _number(stress_metrics[key]),
                _number(stress_metrics.get(f"{stem}_mean")),
                _number(stress_metrics.get(f"{stem}_worst")),
                str(stress_metrics.get(f"{stem}_worst_shift", NOT_AVAILABLE)),
            ]
        )
    return [
        *header,
        "Metrics on unshifted images (clean), their mean over every shifted condition and the worst one, "
        "at the validation threshold.",
        "",
        *_table(["set", "metric", "clean", "mean shifted", "worst", "worst shift"], rows),
        "",
    ]
