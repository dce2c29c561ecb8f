"""One way to run a Keras model on prepared inputs, whatever their number: a direct call for a
batch that fits in one (``model(x, training=False)``), Keras' ``predict`` (its batching and data
pipeline) beyond. ``predict`` sets up that pipeline on every call, about 15-30 ms, which is most of
the time of a single image (benchmarks/single_prediction.py); the Keras documentation recommends the
direct call for small inputs. Both run the same layers in inference mode."""

import keras
import numpy as np


def model_outputs(model: keras.Model, inputs: np.ndarray, batch_size: int) -> np.ndarray | list[np.ndarray]:
    """``model``'s outputs (an array, or a list for a model with several) for ``inputs``."""
    if len(inputs) <= batch_size:
        # in the structure the model was built with (one tensor or a list of one), as predict does
        outputs = model(keras.tree.pack_sequence_as(model.input, [inputs]), training=False)
        if isinstance(outputs, list | tuple):
            return [keras.ops.convert_to_numpy(output) for output in outputs]
        return keras.ops.convert_to_numpy(outputs)
    return model.predict(inputs, batch_size=batch_size, verbose=0)
