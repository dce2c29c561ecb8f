"""What a study is: its strategies and the names of its models. Its parameters are checked by
their schema (``parameters.Study``) before anything trains."""

from ..parameters import Study
from ..strategies import STRATEGIES

# A synthetic-image strategy trained with a listed GAN profile is compared as "<strategy>@<profile>".
GAN_PROFILE_SEPARATOR = "@"


def study_strategies(study: Study) -> list[str]:
    """The strategies of the study: ``study.strategies``, or every strategy when it is null."""
    return list(study.strategies or STRATEGIES)


def model_label(strategy: str, gan_profile: str) -> str:
    """How the study names a synthetic-image strategy trained with one GAN profile (``gan@cpu_stable``)."""
    return f"{strategy}{GAN_PROFILE_SEPARATOR}{gan_profile}"


def model_strategy(model: str) -> str:
    """The strategy of a study model name (``gan@cpu_stable`` -> ``gan``)."""
    return model.split(GAN_PROFILE_SEPARATOR, 1)[0]
