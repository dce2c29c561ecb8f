from pediatric_pneumonia.search.trial import run_trial, trial_settings


def test_trials_mix_their_batches_as_training_does(data, training, preprocessing):
    search = {"epochs": 1, "images_per_epoch": 32, "seed": 0}
    signals: dict[str, dict[str, float]] = {}
    for name, mixup in (("plain", {"method": "none", "alpha": 0.2}), ("cutmix", {"method": "cutmix", "alpha": 1.0})):
        settings = trial_settings(search, {**training, "mixup": mixup}, preprocessing)
        assert settings["mixup"] == mixup
        run_trial(training["architecture"], *data, settings, lambda epoch, values, name=name: signals.update({name: values}))
    assert signals["cutmix"]["loss"] != signals["plain"]["loss"]
