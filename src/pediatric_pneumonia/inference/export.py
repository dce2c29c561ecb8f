"""Export a predictor's classifier to TensorFlow Lite (LiteRT) for phones and embedded devices.

The TFLite file holds only the network. What happens around it (decoding, the square resize,
intensity normalisation before it; calibration and the decision after it) is described by the
``predictor.json`` written beside it, the same file a predictor package carries. A two-class model
outputs one sigmoid probability, a K-class model K softmax probabilities (``classes`` in order). A
seed ensemble (``models.ensemble``) converts as one model (its builtin layers convert), whose output
is already the sigmoid (softmax) of the mean member logit(s); test-time augmentation
(``inference.tta``) is the app's to apply.
"""

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from ..evaluation.calibration import PROBABILITY_FLOOR
from ..imaging.tta import tta_transforms
from ..models.classifier import squeezed
from .predictor import CONFIG_FILE, Predictor

# Largest difference allowed between the TFLite and the Keras probabilities on the probe images:
# float32 kernels in another order differ by ~1e-7, a broken conversion by far more (or NaN).
EXPORT_TOLERANCE = 1e-5
PROBE_IMAGES = 4


class ExportError(RuntimeError):
    """The converted model does not compute what the Keras model computes."""


def export_tflite(predictor: Predictor, output: Path) -> Path:
    """Write ``predictor.classifier`` as a float32 TFLite model at ``output`` (no quantisation) and
    the predictor's ``predictor.json`` beside it; returns the TFLite path.

    The TFLite model takes one float32 tensor of shape (N, H, W, 1), H = W =
    ``preprocessing.image_size`` (N is dynamic: resize the input tensor): the stored square
    grayscale image after the intensity normalisation of ``preprocessing.intensity``, with values
    in 0-255 (the model rescales them itself). A two-class model outputs (N, 1), the raw sigmoid
    probability of the positive class (the last of ``classes``); apply ``calibration`` and compare
    with ``decision.threshold`` (both in predictor.json) to get the label, as ``Predictor`` does. A
    K-class model outputs (N, K), the raw softmax probability of each of ``classes``; the steps from
    them to the package's answer are under ``tflite.answer`` (``tflite_description``). A package's
    shift reference is not exported (the TFLite model has no feature output).

    Raises:
        ExportError: when the converted model's probabilities differ from the Keras model's on
            random probe images (nothing is written then).
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pediatric-pneumonia-export-") as folder:
        # Keras 3's own SavedModel export sets the inference-mode signature (BatchNormalization's
        # moving statistics); a hand-made concrete function converted to a model that returns NaN.
        predictor.classifier.export(folder, format="tf_saved_model", verbose=False)
        flatbuffer = tf.lite.TFLiteConverter.from_saved_model(folder).convert()
    # Checked under a temporary name and then renamed, so a failed export never leaves a model behind.
    partial = output.with_name(f".{output.name}.partial")
    partial.write_bytes(flatbuffer)
    try:
        check_conversion(predictor, partial)
    except ExportError:
        partial.unlink()
        raise
    os.replace(partial, output)
    # The TFLite model outputs the probability only, no features: the shift reference cannot be used
    # with it, so it stays with the Keras package (check-shift) and is left out here.
    kept = {key: value for key, value in predictor.config.items() if key != "shift_reference"}
    config = {**kept, "tflite": tflite_description(predictor, output.name)}
    (output.parent / CONFIG_FILE).write_text(json.dumps(config, indent=2))
    return output


def tflite_description(predictor: Predictor, model_file: str) -> dict:
    """What a mobile app needs to know about the TFLite model's tensors, stored in predictor.json;
    for a K-class model also how its output becomes the package's answer (``answer``)."""
    size = predictor.preprocessing["image_size"]
    description = {
        "model_file": model_file,
        "input": {
            "shape": [None, size, size, 1],
            "dtype": "float32",
            "values": "0-255, the stored square grayscale image after preprocessing.intensity",
        },
        "output": tflite_output(predictor.classes),
        "test_time_augmentation": tta_steps(predictor),
    }
    if len(predictor.classes) > 2:
        description["answer"] = multiclass_answer_steps()
    return description


def tflite_output(classes: list[str]) -> dict:
    """The output tensor: one sigmoid probability of the last class for two classes; for K, the
    softmax probability of each class, one column per class in the order of ``classes``."""
    if len(classes) == 2:
        return {
            "shape": [None, 1],
            "dtype": "float32",
            "values": f"raw sigmoid probability of {classes[-1]}, before calibration",
        }
    return {
        "shape": [None, len(classes)],
        "dtype": "float32",
        "values": "raw softmax probability of each class, one column per class in the order of classes, before calibration",
        "classes": list(classes),
    }


def multiclass_answer_steps() -> dict[str, str]:
    """How a K-class model's output becomes the package's answer (``Predictor``), step by step,
    naming the predictor.json keys that hold the numbers."""
    return {
        "calibration": (
            f"softmax(log(max(p, {PROBABILITY_FLOOR:g})) / calibration.temperature) over the classes, "
            "p the output row (the output as it is when the temperature is 1)"
        ),
        "label": "the class of the largest calibrated probability (decision.rule: argmax)",
        "probability": "P(pneumonia) = 1 - the calibrated probability of classes[0]",
        "threshold": "decision.threshold is the cut-off on P(pneumonia) for the binary question; the label does not use it",
    }


def tta_steps(predictor: Predictor) -> str:
    """How to apply the package's test-time augmentation to the TFLite output, or "none"."""
    if not tta_transforms(predictor.tta):
        return "none"
    if len(predictor.classes) == 2:
        return "average the logits of the stored image and of each inference.tta transform of it, then the sigmoid"
    return (
        "average each class's log-probability (its logit up to a constant) over the stored image and each "
        "inference.tta transform of it, then the softmax"
    )


def check_conversion(predictor: Predictor, tflite_path: Path) -> None:
    """Compare the TFLite and Keras probabilities (every class's of a K-class model) on seeded
    random images of the model's input."""
    size = predictor.preprocessing["image_size"]
    probe = np.random.default_rng(0).uniform(0, 255, (PROBE_IMAGES, size, size, 1)).astype(np.float32)
    expected = squeezed(predictor.classifier.predict(probe, verbose=0))
    found = tflite_probabilities(tflite_path, probe)
    if found.shape != expected.shape:
        raise ExportError(
            f"The TFLite conversion of '{predictor.name}' outputs probabilities of shape {found.shape} where the Keras "
            f"model's are {expected.shape}; nothing was written."
        )
    difference = np.max(np.abs(found - expected))
    if not difference <= EXPORT_TOLERANCE:  # written so that NaN fails too
        raise ExportError(
            f"The TFLite conversion of '{predictor.name}' computes different probabilities from the Keras "
            f"model (largest difference {difference}, allowed {EXPORT_TOLERANCE}); nothing was written."
        )


def tflite_probabilities(tflite_path: str | Path, model_input: np.ndarray) -> np.ndarray:
    """Run the TFLite model at ``tflite_path`` in the LiteRT interpreter on ``model_input``
    ((N, H, W, 1) float32, as ``imaging.preprocess.as_model_input`` makes it); returns the raw
    (uncalibrated) probabilities: (N,) of a two-class model, (N, K) of a K-class one."""
    model_input = np.asarray(model_input, dtype=np.float32)
    interpreter = Interpreter(model_path=str(tflite_path))
    input_index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(input_index, model_input.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(input_index, model_input)
    interpreter.invoke()
    return squeezed(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])).copy()
