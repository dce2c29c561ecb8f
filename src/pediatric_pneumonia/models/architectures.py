"""The classifier's architecture families (``training.architecture.family``): one builder each, in
one table, and the name of a model's last feature map (Grad-CAM's layer and the feature vector's).

Every builder takes 0-255 pixels, rescales them to [0, 1] itself (layer ``rescale``) and ends in
the hidden layers of ``classifier_head``; ``build_network`` adds the output named
``pneumonia_probability``: ``Dense(1, sigmoid)`` for two classes, ``Dense(K, softmax)`` for K > 2,
and returns the uncompiled model (``classifier.build_classifier`` compiles). The ``keras.applications`` families are built by the
library on our own tensor, so their layers sit in one flat functional graph (Grad-CAM and the
TFLite export read them), from scratch (``weights=None``) on one channel with no ImageNet
preprocessing. Stochastic depth is a per-image ``Dropout`` of a residual branch (a builtin layer,
so the model loads with Keras' safe mode on).
"""

from collections.abc import Callable

import keras

from .ensemble import OUTPUT_LAYER

FEATURE_POOL = "global_pool"  # the GlobalAveragePooling2D of every family but the paper's


def paper_network(inputs: keras.KerasTensor, architecture: dict) -> keras.KerasTensor:
    """The paper's CNN: each ``conv_filters`` entry a Conv2D(relu) + MaxPooling2D block, with
    BatchNormalization between consecutive blocks (``batch_norm``), then Flatten and the head."""
    kernel = architecture["kernel_size"]
    features = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    for index, filters in enumerate(architecture["conv_filters"]):
        if index > 0 and architecture["batch_norm"]:
            features = keras.layers.BatchNormalization(
                momentum=architecture["batch_norm_momentum"], name=f"batch_norm_{index}"
            )(features)
        features = keras.layers.Conv2D(
            filters, (kernel, kernel), activation="relu", name=f"conv_{index + 1}"
        )(features)
        features = keras.layers.MaxPooling2D(architecture["pool_size"], name=f"pool_{index + 1}")(
            features
        )
    return classifier_head(keras.layers.Flatten(name="flatten")(features), architecture)


def classifier_head(features: keras.KerasTensor, architecture: dict) -> keras.KerasTensor:
    """Hidden Dense(relu) + Dropout layers (``dense_units``, ``dropout_rates``) before the output."""
    for index, (units, rate) in enumerate(zip(architecture["dense_units"], architecture["dropout_rates"])):
        features = keras.layers.Dense(units, activation="relu", name=f"dense_{index + 1}")(features)
        features = keras.layers.Dropout(rate, name=f"dropout_{index + 1}")(features)
    return features


def output_layer(n_classes: int) -> keras.layers.Dense:
    """The model's output: the positive class's probability (sigmoid) for two classes, every
    class's (softmax) for more."""
    if n_classes == 2:
        return keras.layers.Dense(1, activation="sigmoid", name=OUTPUT_LAYER)
    return keras.layers.Dense(n_classes, activation="softmax", name=OUTPUT_LAYER)


def pooled_head(feature_map: keras.KerasTensor, architecture: dict) -> keras.KerasTensor:
    """Global average pooling of the last feature map, ``feature_dropout``, then the head."""
    features = keras.layers.GlobalAveragePooling2D(name=FEATURE_POOL)(feature_map)
    features = keras.layers.Dropout(architecture["feature_dropout"], name="feature_dropout")(features)
    return classifier_head(features, architecture)


def residual_network(inputs: keras.KerasTensor, architecture: dict) -> keras.KerasTensor:
    """A compact ResNet for 2 CPU cores: a stride-2 3x3 stem of ``width`` filters and a stride-2 max
    pooling, four stages of one
    basic residual block each (widths x1, x2, x4, x8; stages 2-4 halve the side with a projected
    shortcut), BatchNormalization after every convolution, then global average pooling and the head.

    With ``stochastic_depth`` p > 0 the residual branch of block i (of n) is dropped for a whole image
    with probability p x i / n during training (survivors scaled by 1 / (1 - rate)), the linear
    decay of Huang et al. 2016; inference uses every branch.
    """
    width, momentum = architecture["width"], architecture["batch_norm_momentum"]
    stage_widths = [width * 2**stage for stage in range(4)]

    def conv_bn(tensor, filters, kernel, strides, name, relu=True):
        tensor = keras.layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False, name=f"{name}_conv")(
            tensor
        )
        tensor = keras.layers.BatchNormalization(momentum=momentum, name=f"{name}_bn")(tensor)
        return keras.layers.ReLU(name=f"{name}_relu")(tensor) if relu else tensor

    features = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    features = conv_bn(features, width, 3, 2, "stem")
    # Down to a quarter of the side before the first block, as ResNet does: full-resolution blocks
    # cost more time than their FLOPs suggest on a CPU (memory-bound normalisation and activations).
    features = keras.layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(features)
    for stage, filters in enumerate(stage_widths):
        name, strides = f"stage{stage + 1}", 1 if stage == 0 else 2
        branch = conv_bn(features, filters, 3, strides, f"{name}_a")
        branch = conv_bn(branch, filters, 3, 1, f"{name}_b", relu=False)
        rate = architecture["stochastic_depth"] * (stage + 1) / len(stage_widths)
        if rate > 0:
            branch = keras.layers.Dropout(rate, noise_shape=(None, 1, 1, 1), name=f"{name}_drop_path")(branch)
        shortcut = features
        if strides != 1 or features.shape[-1] != filters:
            shortcut = conv_bn(features, filters, 1, strides, f"{name}_shortcut", relu=False)
        features = keras.layers.Add(name=f"{name}_add")([shortcut, branch])
        features = keras.layers.ReLU(name=f"{name}_out")(features)
    return pooled_head(features, architecture)


def keras_application(constructor: Callable, **options) -> Callable[[keras.KerasTensor, dict], keras.KerasTensor]:
    """A builder that runs a ``keras.applications`` constructor from scratch on the rescaled input.

    Every BatchNormalization of the library's network takes ``batch_norm_momentum``: its own
    (0.999 in MobileNetV3, 0.99 in DenseNet and ResNetV2) leaves the moving statistics near their
    initial values after the few hundred steps of a training here, so inference-mode validation
    sees another network (a constant output: validation ROC-AUC 0.5 for MobileNetV3Small)."""

    def build(inputs: keras.KerasTensor, architecture: dict) -> keras.KerasTensor:
        rescaled = keras.layers.Rescaling(1.0 / 255, name="rescale")(inputs)
        backbone = constructor(include_top=False, weights=None, input_tensor=rescaled, **options)
        for layer in backbone.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = architecture["batch_norm_momentum"]
        return pooled_head(backbone.output, architecture)

    return build


# family -> builder; choices.ARCHITECTURE_FAMILIES lists the same names (a test checks it).
FAMILY_BUILDERS: dict[str, Callable[[keras.KerasTensor, dict], keras.KerasTensor]] = {
    "paper": paper_network,
    "residual": residual_network,
    "densenet121": keras_application(keras.applications.DenseNet121),
    "efficientnetv2b0": keras_application(keras.applications.EfficientNetV2B0, include_preprocessing=False),
    "mobilenetv3small": keras_application(keras.applications.MobileNetV3Small, include_preprocessing=False),
    "resnet50v2": keras_application(keras.applications.ResNet50V2),
}


def build_network(input_shape: tuple[int, ...], architecture: dict, n_classes: int = 2) -> keras.Model:
    """The uncompiled classifier of ``architecture['family']`` for images of ``input_shape`` and
    ``n_classes`` classes (``output_layer``)."""
    inputs = keras.Input(shape=input_shape, name="xray")
    features = FAMILY_BUILDERS[architecture["family"]](inputs, architecture)
    return keras.Model(inputs, output_layer(n_classes)(features), name="pneumonia_cnn")


def feature_map_layer_name(model: keras.Model) -> str:
    """The name of the layer whose output is ``model``'s last feature map: Grad-CAM's default layer
    and the one whose global average is the model's feature vector (``feature_extractor``).

    That is the layer feeding the model's last Flatten or GlobalAveragePooling2D, stepping back over
    pooling layers that only subsample it (the paper CNN's map is its last Conv2D, before the last
    max pooling). Works on any family's model, also a loaded one.
    """
    vector_layers = [
        layer for layer in model.layers if isinstance(layer, (keras.layers.Flatten, keras.layers.GlobalAveragePooling2D))
    ]
    # The last one: EfficientNet's and MobileNetV3's squeeze-and-excitation blocks pool too.
    if not vector_layers or len(vector_layers[-1].input.shape) != 4:
        raise ValueError(
            f"Model '{model.name}' has no Flatten or GlobalAveragePooling2D layer after a feature map, so it has "
            "no last feature map for Grad-CAM or the feature vector. Pass the name of a layer with a "
            "(N, h, w, channels) output as layer_name."
        )
    layer = vector_layers[-1].input._keras_history.operation
    while isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        layer = layer.input._keras_history.operation
    if not isinstance(layer, keras.layers.Layer) or isinstance(layer, keras.layers.InputLayer):
        raise ValueError(
            f"Model '{model.name}' flattens or pools its input directly (it has no Conv2D layer or other feature "
            "map before that), so Grad-CAM has no feature map to weigh. Pass the name of a layer with a "
            "(N, h, w, channels) output as layer_name."
        )
    return layer.name
