"""What a study is: its strategies, the names of its models and the check of the ``study``
parameters that runs before anything trains."""

import os
from collections.abc import Sequence

from ..ray_cluster import INSTALL_RAY, check_ray_address_answers, ray_installed
from ..strategies import STRATEGIES, STRATEGY_TABLE

STUDY_BACKENDS = ("sequential", "ray")
# A synthetic-image strategy trained with a listed GAN profile is compared as "<strategy>@<profile>".
GAN_PROFILE_SEPARATOR = "@"


def study_strategies(study: dict) -> list[str]:
    """The strategies of the study: ``study.strategies``, or every strategy when it is null."""
    return list(study["strategies"] or STRATEGIES)


def check_study_parameters(study: dict, strategies: Sequence[str]) -> None:
    """Raise a ValueError naming the ``study`` parameter that cannot work and how to fix it.

    Args:
        study: the ``study`` parameter group.
        strategies: every strategy the project can train.
    """
    seeds = study.get("seeds")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"study.seeds must be a whole number of seeds per strategy, 1 or more; got {seeds!r}.")
    reference = study.get("reference_strategy")
    if reference not in strategies:
        raise ValueError(
            f"study.reference_strategy '{reference}' is not a strategy. Use one of {list(strategies)} (usually baseline)."
        )
    chosen = study.get("strategies")
    if chosen is not None:
        unknown = [strategy for strategy in chosen if strategy not in strategies]
        if unknown:
            raise ValueError(f"study.strategies names unknown strategies {unknown}. Use some of {list(strategies)}, or null for all.")
        if reference not in chosen:
            raise ValueError(f"study.strategies {list(chosen)} leaves out the reference '{reference}': add it, or set it to null.")
    for name in ("confidence_level", "significance_level"):
        value = study.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"study.{name} must lie strictly between 0 and 1 (e.g. 0.95, 0.05); got {study.get(name)!r}.")
    resamples = study.get("bootstrap_resamples")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"study.bootstrap_resamples must be a positive whole number (1000 is usual); got {resamples!r}.")
    if study.get("backend") not in STUDY_BACKENDS:
        raise ValueError(f"study.backend must be one of {STUDY_BACKENDS}; got {study.get('backend')!r}.")
    cpus = study.get("cpus_per_job")
    if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
        raise ValueError(f"study.cpus_per_job must be a positive number of cores (1 is usual); got {cpus!r}.")
    if not isinstance(study.get("retrain_gan_per_seed"), bool):
        raise ValueError(f"study.retrain_gan_per_seed must be true or false; got {study.get('retrain_gan_per_seed')!r}.")
    timeout = study.get("ray_connect_timeout_s")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise ValueError(f"study.ray_connect_timeout_s must be a positive number of seconds (5 is usual); got {timeout!r}.")
    if not study.get("workspace"):
        raise ValueError("study.workspace must name the folder of the jobs' workspaces (e.g. data/09_study).")
    if study["backend"] == "ray":
        if not ray_installed():
            raise ImportError(f"study.backend is 'ray' but Ray is not installed: {INSTALL_RAY}, or set backend: sequential.")
        address = os.environ.get("RAY_ADDRESS")
        if address:
            check_ray_address_answers(address, study["ray_connect_timeout_s"])


def check_study_gan_profiles(study: dict, profiles: Sequence[str]) -> None:
    """Raise a ValueError if ``study.gan_profiles`` is not null or a list of distinct names of
    ``profiles`` (the GAN profiles of ``synthesis.profiles``)."""
    listed = study.get("gan_profiles")
    if listed is None:
        return
    known = sorted(profiles)
    if not isinstance(listed, list) or not listed or len(set(map(str, listed))) != len(listed):
        raise ValueError(
            f"study.gan_profiles must be null (synthesis.profile alone) or a list of distinct GAN profiles, e.g. "
            f"[cpu, cpu_stable]; got {listed!r}. The profiles are {known}."
        )
    unknown = [profile for profile in listed if profile not in profiles]
    if unknown:
        raise ValueError(f"study.gan_profiles names unknown GAN profiles {unknown}. Use some of {known} (synthesis.profiles).")
    if STRATEGY_TABLE[study["reference_strategy"]].uses_synthetic_images:
        raise ValueError(
            f"study.reference_strategy '{study['reference_strategy']}' uses synthetic images, so with study.gan_profiles "
            f"listed it is several models ({study['reference_strategy']}{GAN_PROFILE_SEPARATOR}<profile>). Use a reference "
            "without synthetic images (baseline), or set study.gan_profiles to null."
        )


def model_label(strategy: str, gan_profile: str) -> str:
    """How the study names a synthetic-image strategy trained with one GAN profile (``gan@cpu_stable``)."""
    return f"{strategy}{GAN_PROFILE_SEPARATOR}{gan_profile}"


def model_strategy(model: str) -> str:
    """The strategy of a study model name (``gan@cpu_stable`` -> ``gan``)."""
    return model.split(GAN_PROFILE_SEPARATOR, 1)[0]
