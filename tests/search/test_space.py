import os
import time
from pathlib import Path

import pytest

from pediatric_pneumonia import ray_cluster
from pediatric_pneumonia.models.classifier import choose_architecture
from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.ray_cluster import check_ray_backend
from pediatric_pneumonia.search import SearchedArchitectureDataset, expand_space
from pediatric_pneumonia.search.space import check_fits_image, sample_trials
from tests.conftest import PAPER_ARCHITECTURE, training_parameters
from tests.search.conftest import checked


def test_the_paper_grid_has_140_buildable_configurations(paper_search):
    architectures = expand_space(checked(paper_search), PAPER_ARCHITECTURE)

    assert len(architectures) == 5 * (1 + 2 * 2 + 3 * 3) * 2 == 140
    assert all(len(a["dense_units"]) == len(a["dropout_rates"]) for a in architectures)
    assert len({str(a) for a in architectures}) == 140
    assert {a["kernel_size"] for a in architectures} == {PAPER_ARCHITECTURE["kernel_size"]}
    check_fits_image(architectures, 148)


def test_max_trials_draws_across_the_grid(paper_search):
    architectures = expand_space(checked(paper_search), PAPER_ARCHITECTURE)
    drawn = sample_trials(architectures, 10, seed=1)

    assert len(drawn) == 10 and len({str(a["conv_filters"]) for a in drawn}) > 1
    assert drawn == sample_trials(architectures, 10, seed=1)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"space": {"conv_filters": [], "dense_units": [[]], "dropout_rates": [[]], "batch_norm": [True]}}, "is empty"),
        ({"space": {"conv_filters": [[8]], "dense_units": [[64, 64, 64]], "dropout_rates": [[0.2]], "batch_norm": [True]}},
         "can never pair"),
        ({"backend": "spark"}, "Unknown search.backend 'spark'"),
        ({"mode": "max"}, "search.mode is not a setting of search"),
        ({"max_trials": 0}, "max_trials must be a positive integer"),
    ],
)
def test_bad_search_parameters_say_what_to_fix(paper_search, change, message):
    with pytest.raises(ValueError, match=message):
        check_parameters("search", {**paper_search, **change})


def test_ray_backend_without_ray_names_the_extra(paper_search, monkeypatch):
    monkeypatch.setattr(ray_cluster, "ray_installed", lambda: False)
    with pytest.raises(ImportError, match=r'search.backend is .* pip install "pediatric-pneumonia\[search\]"'):
        check_ray_backend("search.backend", paper_search["ray"]["connect_timeout_s"])


def test_an_unreachable_ray_address_fails_fast_naming_it(paper_search, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    started = time.monotonic()
    with pytest.raises(ConnectionError, match="RAY_ADDRESS is '127.0.0.1:1'"):
        check_ray_backend("search.backend", paper_search["ray"]["connect_timeout_s"])
    assert time.monotonic() - started < paper_search["ray"]["connect_timeout_s"] + 1


def test_too_many_conv_blocks_for_the_image_are_caught_before_training():
    with pytest.raises(ValueError, match="too many conv blocks for 16x16"):
        check_fits_image([{**PAPER_ARCHITECTURE, "conv_filters": [8, 8, 8]}], 16)


def test_training_takes_the_searched_architecture_only_when_asked(tmp_path):
    searched = {"architecture": {**PAPER_ARCHITECTURE, "conv_filters": [64, 128]}}
    training = training_parameters(epochs=3)

    assert choose_architecture(training, searched) is training
    from_search = training.model_copy(update={"architecture_from": "search"})
    chosen = choose_architecture(from_search, searched)
    assert chosen.architecture.conv_filters == [64, 128] and chosen.epochs == 3
    with pytest.raises(FileNotFoundError, match="kedro run --pipeline search"):
        choose_architecture(from_search, None)


def test_the_architecture_file_loads_as_none_until_written(tmp_path):
    dataset = SearchedArchitectureDataset(filepath=str(tmp_path / "architecture.yml"))
    assert dataset.exists() and dataset.load() is None
    dataset.save({"architecture": {"conv_filters": [32, 64]}})
    assert dataset.load() == {"architecture": {"conv_filters": [32, 64]}}
    assert Path(tmp_path / "architecture.yml").exists() and os.path.getsize(tmp_path / "architecture.yml") > 0


def test_family_is_a_dimension_whose_other_families_take_only_the_heads(paper_search):
    base = {**PAPER_ARCHITECTURE, "family": "paper"}
    space = {**paper_search["space"], "family": ["paper", "residual", "mobilenetv3small"]}
    architectures = expand_space(checked({**paper_search, "space": space}), base)

    assert architectures[:140] == expand_space(checked(paper_search), base)
    residual = [a for a in architectures if a["family"] == "residual"]
    assert len(residual) == len(architectures) - 140 - 14 == 14
    assert {str(a["dense_units"]) for a in residual} == {str(units) for units in paper_search["space"]["dense_units"]}
    for architecture in architectures:
        check_parameters("training.architecture", architecture)
    check_fits_image(architectures, 148)
    with pytest.raises(ValueError, match="family 'mobilenetv3small' needs images of at least 32x32 pixels, not 28x28"):
        check_fits_image(architectures[140:], 28)


def test_a_residual_width_in_training_does_not_reach_the_paper_trials(paper_search):
    base = {**PAPER_ARCHITECTURE, "family": "residual", "width": 16}
    space = {**paper_search["space"], "family": ["paper", "residual"]}
    architectures = expand_space(checked({**paper_search, "space": space}), base)
    assert all("width" not in a for a in architectures if a["family"] == "paper")
    assert all(a["width"] == 16 for a in architectures if a["family"] == "residual")
