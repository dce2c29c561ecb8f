"""Tiny GAN profiles and synthesis parameters for the DCGAN tests: seconds per training."""

from tests.conftest import random_image_set

CLASSES = ["NORMAL", "PNEUMONIA"]
IMPROVED = {"loss": "hinge", "optimizer": "adam", "beta_1": 0.0, "beta_2": 0.9}


def tiny_profile(**changes) -> dict:
    profile = {
        "image_size": 16,
        "latent_dim": 8,
        "batch_size": 4,
        "iterations": 4,
        "log_every": 2,
        "checkpoint_every": 2,
        "loss": "bce",
        "optimizer": "rmsprop",
        "generator": {
            "base_filters": 8,
            "filters": [8, 4],
            "strides": [2, 2],
            "kernel_size": 3,
            "learning_rate": 0.001,
            "ema": None,
        },
        "discriminator": {
            "filters": [4, 8],
            "strides": [2, 2],
            "kernel_size": 3,
            "dropout": 0.0,
            "learning_rate": 0.001,
            "spectral_norm": False,
            "diff_augment": [],
        },
    }
    return {**profile, **changes}


def improved_profile(**changes) -> dict:
    """The tiny profile with every stabiliser on: hinge loss, Adam, spectral norm, DiffAugment, an average."""
    profile = tiny_profile(**IMPROVED)
    profile["generator"] = {**profile["generator"], "ema": 0.9}
    profile["discriminator"] = {
        **profile["discriminator"],
        "learning_rate": 0.004,
        "spectral_norm": True,
        "diff_augment": ["color", "translation", "cutout"],
    }
    return {**profile, **changes}


def synthesis_parameters(tmp_path, **changes) -> dict:
    return {
        "seed": 1,
        "checkpoint_dir": str(tmp_path / "checkpoint"),
        "profile": "tiny",
        "profiles": {"tiny": tiny_profile(**changes)},
    }


def improved_parameters(tmp_path, **changes) -> dict:
    return {**synthesis_parameters(tmp_path), "profiles": {"tiny": improved_profile(**changes)}}


def train_set(normal: int = 6) -> dict:
    return random_image_set(normal=normal, pneumonia=10, size=24)
