import pandas as pd
import pytest

from pediatric_pneumonia.evaluation.patients import aggregate_by_patient
from pediatric_pneumonia.naming import subtype_from_path


@pytest.mark.parametrize(
    "path, subtype",
    [
        ("/data/test/PNEUMONIA/person1_bacteria_1.jpeg", "bacteria"),
        ("person1000_virus_1681.jpeg", "virus"),
        ("person3_Virus_7_2.jpeg", "virus"),
        ("/data/test/NORMAL/IM-0001-0001.jpeg", None),
        ("NORMAL2-IM-1427-0001.jpeg", None),
        ("person12_fungus_3.jpeg", None),
        ("my_bacteria_scan.jpeg", None),
    ],
)
def test_subtype_comes_from_the_public_file_name(path, subtype):
    assert subtype_from_path(path) == subtype


def predictions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["a", "a", "a", "b", "c", "c"],
            "target": [1, 1, 1, 0, 0, 0],
            "probability": [0.2, 0.3, 0.9, 0.1, 0.2, 0.6],
        }
    )


def test_patients_aggregate_by_mean_or_max():
    by_mean = aggregate_by_patient(predictions(), "mean").set_index("patient_id")
    by_max = aggregate_by_patient(predictions(), "max").set_index("patient_id")

    assert by_mean["n_images"].to_dict() == {"a": 3, "b": 1, "c": 2}
    assert by_mean["target"].to_dict() == {"a": 1, "b": 0, "c": 0}
    assert by_mean["probability"].to_dict() == pytest.approx({"a": 1.4 / 3, "b": 0.1, "c": 0.4})
    assert by_max["probability"].to_dict() == pytest.approx({"a": 0.9, "b": 0.1, "c": 0.6})


def test_a_patient_with_any_positive_image_is_positive():
    frame = pd.DataFrame({"patient_id": ["a", "a"], "target": [0, 1], "probability": [0.1, 0.2]})
    assert aggregate_by_patient(frame, "mean")["target"].tolist() == [1]


def test_unknown_aggregation_is_refused():
    with pytest.raises(ValueError, match="Unknown patient aggregation 'median'"):
        aggregate_by_patient(predictions(), "median")
