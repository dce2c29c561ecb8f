"""Grad-CAM heat maps for the pneumonia CNN (Selvaraju et al. 2017), their overlays, and the checks
that say whether a heat map means anything: model-parameter randomisation (Adebayo et al. 2018,
"Sanity checks for saliency maps") and the share of the heat near the image border (markers, text
and devices at the edge are known shortcuts in chest X-rays).

Gradients run on the active Keras backend (TensorFlow, JAX or PyTorch); everything else is ``keras.ops``.
"""

import cv2
import keras
import numpy as np
from keras import ops
from scipy.stats import spearmanr

from ..models.architectures import feature_map_layer_name
from ..models.ensemble import ensemble_members, pneumonia_logit


def _logit_tail(model: keras.Model, layer_name: str) -> keras.Model:
    """The part of ``model`` after ``layer_name``, ending in the pneumonia *logit*.

    Grad-CAM differentiates the pre-sigmoid score: a confident probability rounds to 1.0 in float32
    and its gradient to zero, which would blank the maps of the clearest cases. Needs a graph
    whose layers after ``layer_name`` depend on that layer's output only (true of the project CNN).
    """
    logit = pneumonia_logit(model, "Grad-CAM")
    return keras.Model(model.get_layer(layer_name).output, logit, name="grad_cam_tail")


# Each gradient function differentiates sum(logits x mask): ``mask`` (N, outputs) picks each image's
# explained logit (the one logit of a two-class model; its class's of a K-class one).


def _gradient_tensorflow(tail: keras.Model, activations, mask):
    import tensorflow as tf

    activations = tf.convert_to_tensor(activations)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        score = ops.sum(tail(activations, training=False) * mask)
    return tape.gradient(score, activations)


def _gradient_jax(tail: keras.Model, activations, mask):
    import jax

    trainable = [variable.value for variable in tail.trainable_variables]
    non_trainable = [variable.value for variable in tail.non_trainable_variables]

    def score(feature_map):
        logits, _ = tail.stateless_call(trainable, non_trainable, feature_map, training=False)
        return jax.numpy.sum(logits * mask)

    return jax.grad(score)(activations)


def _gradient_torch(tail: keras.Model, activations, mask):
    import torch

    activations = activations.detach().requires_grad_(True)
    (gradient,) = torch.autograd.grad(ops.sum(tail(activations, training=False) * ops.convert_to_tensor(mask)), activations)
    return gradient


GRADIENTS = {"tensorflow": _gradient_tensorflow, "jax": _gradient_jax, "torch": _gradient_torch}


def grad_cam(
    model: keras.Model,
    model_input: np.ndarray,
    layer_name: str | None = None,
    batch_size: int = 32,
    class_index: np.ndarray | None = None,
) -> np.ndarray:
    """Grad-CAM heat maps of the model's pneumonia output (of a K-class model: of each image's
    ``class_index``, by default its most probable class).

    Args:
        model: a classifier ending in one sigmoid unit (pneumonia) or a K-class softmax, e.g.
            ``build_classifier``'s, or a seed ensemble (``models.ensemble``), whose map is the mean
            of its members' maps (of the ensemble's class).
        model_input: what the model is fed, (N, H, W, 1) float32 in 0-255 (``as_model_input``).
        layer_name: the feature-map layer; None = the model's last feature map (``feature_map_layer_name``:
            the paper CNN's last Conv2D).
        batch_size: images per forward/backward pass.

    Returns:
        (N, H, W) float32 maps in [0, 1] (each divided by its own maximum; an ensemble's mean is
        not rescaled, so members that disagree give a fainter map), upsampled bilinearly to the
        input size. A map with no positive evidence (e.g. dead ReLUs) stays all zeros.
    """
    if model.output_shape[-1] > 1 and class_index is None:
        class_index = np.argmax(model.predict(model_input, batch_size=batch_size, verbose=0), axis=1)
    members = ensemble_members(model)
    if len(members) > 1:
        return np.mean([grad_cam(member, model_input, layer_name, batch_size, class_index) for member in members], axis=0)
    backend = keras.backend.backend()
    if backend not in GRADIENTS:
        raise ValueError(f"Grad-CAM has no gradient for the Keras backend '{backend}'; use one of {tuple(GRADIENTS)}.")
    layer_name = layer_name or feature_map_layer_name(model)
    layer_names = [layer.name for layer in model.layers]
    if layer_name not in layer_names:
        raise ValueError(
            f"Layer '{layer_name}' is not in model '{model.name}'. Its layers are {layer_names}; "
            f"Grad-CAM usually takes the last feature map ('{feature_map_layer_name(model)}'): set explain.layer to null."
        )
    height, width = model_input.shape[1:3]
    head = keras.Model(model.inputs, model.get_layer(layer_name).output, name="grad_cam_head")
    tail = _logit_tail(model, layer_name)
    maps = [np.zeros((0, height, width), dtype=np.float32)]
    for start in range(0, len(model_input), batch_size):
        activations = head(ops.convert_to_tensor(model_input[start : start + batch_size]), training=False)
        count, outputs = int(activations.shape[0]), int(tail.output_shape[-1])
        mask = np.ones((count, 1), np.float32) if class_index is None else np.eye(outputs, dtype=np.float32)[class_index[start : start + count]]
        gradients = GRADIENTS[backend](tail, activations, mask)
        channel_weights = ops.mean(gradients, axis=(1, 2), keepdims=True)
        cam = ops.relu(ops.sum(channel_weights * activations, axis=-1, keepdims=True))
        cam = ops.relu(ops.image.resize(cam, (height, width), interpolation="bilinear"))
        peak = ops.max(cam, axis=(1, 2, 3), keepdims=True)
        cam = ops.where(peak > 0, cam / ops.maximum(peak, 1e-30), ops.zeros_like(cam))
        maps.append(ops.convert_to_numpy(ops.clip(cam, 0.0, 1.0))[..., 0].astype(np.float32))
    return np.concatenate(maps)


def overlay_heatmap(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4) -> np.ndarray:
    """A (H, W) uint8 gray image with a (H, W) heat map in [0, 1] blended over it as a JET colour
    map (weight ``alpha``): an (H, W, 3) uint8 RGB image."""
    if image.shape != heatmap.shape or image.ndim != 2:
        raise ValueError(f"overlay_heatmap needs a 2-D image and a heat map of the same shape, got {image.shape} and {heatmap.shape}.")
    heat = np.clip(np.nan_to_num(heatmap), 0.0, 1.0)
    coloured = cv2.cvtColor(cv2.applyColorMap(np.round(heat * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    gray = cv2.cvtColor(image.astype(np.uint8), cv2.COLOR_GRAY2RGB)
    return cv2.addWeighted(coloured, alpha, gray, 1.0 - alpha, 0.0)


def randomised_copy(model: keras.Model, seed: int) -> keras.Model:
    """The same architecture with every weight re-initialised from its layer's initializer, seeded
    (Adebayo et al. 2018, full model-parameter randomisation). ``model`` is left untouched."""
    rng = np.random.default_rng(seed)

    def reinitialised(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        for key, value in config.items():
            if key.endswith("_initializer") and isinstance(value, dict) and "seed" in value.get("config", {}):
                config[key] = {**value, "config": {**value["config"], "seed": int(rng.integers(2**31 - 1))}}
        return layer.__class__.from_config(config)

    # recursive: an ensemble's members are nested models, each reinitialised layer by layer.
    return keras.models.clone_model(model, clone_function=reinitialised, recursive=True)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two heat maps (flattened).

    A constant map (all zeros, say) ranks nothing, so its correlation with anything is defined
    as 0.0: it carries no agreement, and the value stays finite in the metrics.
    """
    a, b = np.ravel(a), np.ravel(b)
    if a.shape != b.shape:
        raise ValueError(f"rank_correlation needs heat maps of the same size, got {a.size} and {b.size} values.")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def border_mass_share(heatmap: np.ndarray, border_fraction: float) -> float:
    """The share of the (H, W) heat map's total mass lying within ``border_fraction`` of the side
    (rounded to whole pixels) of any edge. An all-zero map has no mass anywhere: 0.0."""
    if not 0 < border_fraction < 0.5:
        raise ValueError(f"border_fraction must be in (0, 0.5), got {border_fraction}.")
    height, width = heatmap.shape
    rows, columns = round(border_fraction * height), round(border_fraction * width)
    total = float(np.sum(heatmap))
    if total <= 0:
        return 0.0
    interior = float(np.sum(heatmap[rows : height - rows, columns : width - columns]))
    return (total - interior) / total
