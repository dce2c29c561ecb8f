"""The GAN profile a synthesis trains: ``synthesis.profiles[synthesis.profile]``
(conf/base/parameters_synthesis.yml), checked against the parameter schema (``parameters.Synthesis``)
so that a GAN training cannot fail half-way on a setting."""

from ..parameters import Synthesis, check_parameters


def select_gan_profile(synthesis: Synthesis | dict) -> dict:
    """The GAN profile named by ``synthesis.profile``.

    Raises:
        ParameterError: for an unknown profile, a resolution the generator cannot produce or an
            unusable method setting (the schema's message names the key and the fix).
    """
    if not isinstance(synthesis, Synthesis):
        synthesis = check_parameters("synthesis", synthesis)
    # As written: its checkpoints are fingerprinted by these values.
    return synthesis.profiles[synthesis.profile].as_written()
