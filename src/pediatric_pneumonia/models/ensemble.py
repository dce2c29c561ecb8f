"""Seed ensembles: N classifiers trained alike but for their seed, packaged as ONE Keras model whose
output is sigmoid (softmax, for more than two classes) of the mean of the members' logits, and the
one way to get the members back out.

Averaging logits (not probabilities) keeps the ensemble a logistic model, so temperature
calibration and Grad-CAM of the logit mean what they mean for one model. The ensemble uses
builtin layers only (nested functional members, ``Average``, ``Activation``), so it loads with
Keras safe mode on. Everything that needs the members (Grad-CAM, the TFLite export, the logit of
test-time augmentation) asks ``ensemble_members`` / ``logit_model`` here; a plain model is its
own only member.
"""

import keras

ENSEMBLE_NAME = "pneumonia_ensemble"
MEAN_LOGIT_LAYER = "mean_logit"
OUTPUT_LAYER = "pneumonia_probability"


def pneumonia_logit(model: keras.Model, user: str) -> keras.KerasTensor:
    """The *logits* of ``model`` (ending in Dense(1, sigmoid): the pneumonia logit; Dense(K,
    softmax): one per class) as a tensor of its graph: a linear copy of the last Dense that holds
    its trained weights (``model`` is unchanged). ``user`` names who needs it, for the error a
    model of another shape gets."""
    output_layer = model.layers[-1]
    activation = getattr(output_layer, "activation", None)
    expected = (keras.activations.sigmoid,) if getattr(output_layer, "units", None) == 1 else (keras.activations.softmax,)
    if not isinstance(output_layer, keras.layers.Dense) or activation not in (*expected, keras.activations.linear):
        raise ValueError(
            f"{user} needs a model ending in Dense(1, activation='sigmoid') or Dense(K, activation='softmax'), but "
            f"the last layer of '{model.name}' is {output_layer.__class__.__name__} '{output_layer.name}'."
        )
    linear_output = keras.layers.Dense(output_layer.units, name="pneumonia_logit")
    logit = linear_output(output_layer.input)
    linear_output.set_weights(output_layer.get_weights())
    return logit


def member_logits(model: keras.Model, name: str) -> keras.Model:
    """``model`` up to its logits (``pneumonia_logit``): the same layers and a linear copy of the
    last Dense."""
    return keras.Model(model.inputs, pneumonia_logit(model, "An ensemble member"), name=name)


def build_ensemble(members: list[keras.Model]) -> keras.Model:
    """One model computing sigmoid (softmax for K classes) of the mean of the members' logits; one
    member is returned as it is (a 1-member ensemble is exactly today's model)."""
    if len(members) == 1:
        return members[0]
    inputs = keras.Input(shape=members[0].input_shape[1:], name="xray")
    logits = [member_logits(member, f"member_{index}")(inputs) for index, member in enumerate(members)]
    mean_logit = keras.layers.Average(name=MEAN_LOGIT_LAYER)(logits)
    activation = "sigmoid" if members[0].output_shape[-1] == 1 else "softmax"
    probability = keras.layers.Activation(activation, name=OUTPUT_LAYER)(mean_logit)
    return keras.Model(inputs, probability, name=ENSEMBLE_NAME)


def is_ensemble(model: keras.Model) -> bool:
    return model.name == ENSEMBLE_NAME


def ensemble_members(model: keras.Model) -> list[keras.Model]:
    """The members of an ensemble (each ending in its linear pneumonia logit), or ``[model]``."""
    if not is_ensemble(model):
        return [model]
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def logit_model(model: keras.Model) -> keras.Model:
    """The model from its input to the pneumonia logit, before the final sigmoid: the ensemble's
    mean logit, or a plain model's last Dense made linear (``member_logits``)."""
    if is_ensemble(model):
        return keras.Model(model.inputs, model.get_layer(MEAN_LOGIT_LAYER).output, name=f"{model.name}_logit")
    return member_logits(model, f"{model.name}_logit")
