"""GAN training time per iteration of two synthesis profiles (default: cpu and cpu_stable).

Builds both profiles' models from conf/base (as ``train_gan`` does) in one process and trains
them on random images of the profile's size, in short alternating rounds of ``--iterations``
so both share the machine's load alike. An iteration is what ``train_gan`` repeats: a random real
batch, the discriminator and generator steps, and the weight average where the profile keeps one.
One checkpoint save per profile is timed too and added per iteration at the profile's
``checkpoint_every``. Prints wall seconds per iteration, the median of the rounds' ratios, the
ratio of the process's CPU time (which other processes' load affects far less than wall time),
and the iterations the second profile can run in the first one's configured budget. Pixels are
random: cost does not depend on them.

Run from the project root:  python benchmarks/gan_iteration_time.py [--rounds 12] [--iterations 3]
"""

import argparse
import tempfile
import time

import keras
import numpy as np
from kedro.config import OmegaConfigLoader

from pediatric_pneumonia.models.dcgan import (
    averaging_momentum,
    build_adversarial,
    build_gan,
    build_optimizer,
    update_average,
)
from pediatric_pneumonia.models.dcgan_training import GanCheckpoint, train_gan_step
from pediatric_pneumonia.models.gan_profiles import select_gan_profile
from pediatric_pneumonia.settings import CONFIG_LOADER_ARGS


def prepare(synthesis: dict, name: str, seed: int) -> dict:
    """The profile, its models, adversarial model, random real images and a random generator."""
    profile = select_gan_profile({**synthesis, "profile": name})
    keras.utils.set_random_seed(seed)
    models = build_gan(profile)
    adversarial = build_adversarial(
        models.generator,
        models.discriminator,
        profile["loss"],
        build_optimizer(profile, profile["generator"]["learning_rate"]),
    )
    rng = np.random.default_rng(seed)
    real = rng.random((1000, profile["image_size"], profile["image_size"], 1), dtype=np.float32)
    return {"profile": profile, "models": models, "adversarial": adversarial, "real": real, "rng": rng}


def train_iterations(run: dict, iterations: int) -> tuple[float, float]:
    """Wall and process CPU seconds that ``iterations`` iterations of ``train_gan``'s loop take."""
    profile, models, rng = run["profile"], run["models"], run["rng"]
    start, start_cpu = time.perf_counter(), time.process_time()
    for step in range(1, iterations + 1):
        real_batch = run["real"][rng.integers(0, len(run["real"]), profile["batch_size"])]
        train_gan_step(models.generator, models.discriminator, run["adversarial"], real_batch, rng)
        if models.average is not None:
            update_average(models.average, models.generator, averaging_momentum(profile["generator"]["ema"], step))
    return time.perf_counter() - start, time.process_time() - start_cpu


def checkpoint_seconds(run: dict) -> float:
    """Seconds one checkpoint save of the run's models takes."""
    with tempfile.TemporaryDirectory(prefix="gan-benchmark-") as folder:
        checkpoint = GanCheckpoint(folder, "benchmark", averaged=run["models"].average is not None)
        start = time.perf_counter()
        checkpoint.save(run["models"], {"iteration": 0, "history": {}})
        seconds = time.perf_counter() - start
    run["models"].discriminator.trainable = False  # as train_gan_step expects between steps
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", nargs=2, default=["cpu", "cpu_stable"])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per round and profile")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first (graph tracing)")
    arguments = parser.parse_args()

    synthesis = OmegaConfigLoader(conf_source="conf", env="base", **CONFIG_LOADER_ARGS)["parameters"]["synthesis"]
    runs = {name: prepare(synthesis, name, seed=42) for name in arguments.profiles}
    for run in runs.values():
        train_iterations(run, arguments.warmup)
    wall = {name: [] for name in runs}
    cpu = {name: 0.0 for name in runs}
    for round_index in range(arguments.rounds):
        # Alternate which profile goes first, so neither always follows the other's cache state.
        for name in arguments.profiles[:: 1 if round_index % 2 == 0 else -1]:
            seconds, cpu_seconds = train_iterations(runs[name], arguments.iterations)
            wall[name].append(seconds / arguments.iterations)
            cpu[name] += cpu_seconds
        print(f"round {round_index + 1}: " + ", ".join(f"{name} {wall[name][-1]:.3f} s/it" for name in runs))

    per_iteration = {}
    for name, run in runs.items():
        saving = checkpoint_seconds(run) / run["profile"]["checkpoint_every"]
        per_iteration[name] = float(np.median(wall[name])) + saving
        print(
            f"{name}: median {np.median(wall[name]):.3f} s/iteration training + {saving:.4f} s/iteration of "
            f"checkpoints = {per_iteration[name]:.3f} s/iteration wall; "
            f"{cpu[name] / (arguments.rounds * arguments.iterations):.3f} CPU s/iteration"
        )
    first, second = arguments.profiles
    ratio = float(np.median(np.array(wall[second]) / np.array(wall[first])))
    print(
        f"ratio {second} / {first}: {ratio:.2f} (median of the rounds' wall ratios), "
        f"{cpu[second] / cpu[first]:.2f} (CPU time)"
    )
    budget = runs[first]["profile"]["iterations"]
    print(f"{first}'s {budget} iterations take as long as {budget / ratio:.0f} iterations of {second}")


if __name__ == "__main__":
    main()
