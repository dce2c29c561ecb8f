from pediatric_pneumonia.parameters import Mixup
from pediatric_pneumonia.search.trial import run_trial, trial_settings
from tests.conftest import PAPER_ARCHITECTURE
from tests.search.conftest import checked


def test_trials_mix_their_batches_as_training_does(data, training, preprocessing, paper_search):
    search = checked({**paper_search, "epochs": 1, "images_per_epoch": 32, "seed": 0})
    signals: dict[str, dict[str, float]] = {}
    for name, mixup in (("plain", {"method": "none", "alpha": 0.2}), ("cutmix", {"method": "cutmix", "alpha": 1.0})):
        settings = trial_settings(search, training.model_copy(update={"mixup": Mixup(**mixup)}), preprocessing)
        assert settings["training"]["mixup"] == mixup
        run_trial(PAPER_ARCHITECTURE, *data, settings, lambda epoch, values, name=name: signals.update({name: values}))
    assert signals["cutmix"]["loss"] != signals["plain"]["loss"]
