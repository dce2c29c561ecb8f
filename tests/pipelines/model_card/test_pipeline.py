from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from pediatric_pneumonia.parameters import check_parameters
from pediatric_pneumonia.pipelines.model_card import create_pipeline
from tests.conftest import preprocessing_parameters, training_parameters


def test_model_card_pipeline_writes_the_card_from_the_catalog(card_inputs):
    pipeline = create_pipeline("combined")
    assert set(card_inputs) == pipeline.inputs()
    inputs = {
        **card_inputs,
        "params:training": training_parameters(**card_inputs["params:training"]),
        "params:reporting": check_parameters("reporting", card_inputs["params:reporting"]),
        "params:ingestion": check_parameters("ingestion", card_inputs["params:ingestion"]),
        "params:preprocessing": preprocessing_parameters(**card_inputs["params:preprocessing"]),
    }
    catalog = DataCatalog({name: MemoryDataset(value) for name, value in inputs.items()})
    card = SequentialRunner().run(pipeline, catalog)["model_card"].load()
    assert card.startswith("# Model card: pediatric pneumonia classifier, `combined` strategy")
    assert "| accuracy | 0.871 | 0.841 to 0.899 |" in card
