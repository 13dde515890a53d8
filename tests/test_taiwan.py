"""The UCI Taiwan credit-default data: exact loading, and a risk model that beats baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from dunning.datasets.taiwan import TAIWAN_CATEGORIES, TAIWAN_COLUMNS, load_taiwan_credit
from dunning.errors import DataError
from scoring.risk import RiskModel

FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci-taiwan-credit-default"


@pytest.fixture(scope="module")
def taiwan() -> tuple[pd.DataFrame, pd.Series]:
    if not (FOLDER / "UCI_Credit_Card.csv").is_file():
        pytest.skip(f"UCI Taiwan credit-default data not found at {FOLDER} (not shipped)")
    return load_taiwan_credit(FOLDER)


def test_loader_reads_every_client_with_documented_types(
    taiwan: tuple[pd.DataFrame, pd.Series],
) -> None:
    """30,000 rows, 23 columns without ID, ints for amounts, categories with 'unknown'."""
    X, y = taiwan
    assert X.shape == (30_000, 23)
    assert list(X.columns) == list(TAIWAN_COLUMNS[1:-1])
    assert (y.name, y.dtype, int(y.sum())) == ("default", np.dtype("int64"), 6636)
    for column in X.columns:
        if column in TAIWAN_CATEGORIES:
            assert X[column].cat.categories.tolist() == list(TAIWAN_CATEGORIES[column])
        else:
            assert X[column].dtype == np.int64, column
    assert X["EDUCATION"].value_counts()["unknown"] == 14 + 280 + 51
    assert X["MARRIAGE"].value_counts()["unknown"] == 54
    assert X["SEX"].value_counts().to_dict() == {"female": 18112, "male": 11888, "unknown": 0}
    first = X.iloc[0]
    assert (first["LIMIT_BAL"], first["SEX"], first["AGE"], first["PAY_0"]) == (
        20000,
        "female",
        24,
        2,
    )
    assert X.loc[:, "BILL_AMT1"].iloc[:2].tolist() == [3913, 2682]
    assert int(X["LIMIT_BAL"].max()) == 1_000_000  # written as 1e+06 in the file


def test_risk_model_beats_trivial_baselines(taiwan: tuple[pd.DataFrame, pd.Series]) -> None:
    """On a stratified holdout: AUC >= 0.75 and Brier below the constant base-rate forecast."""
    X, y = taiwan
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )
    model = RiskModel(random_state=0, n_jobs=1).fit(X_train, y_train)
    risk = model.predict_proba(X_test)[:, 1]
    auc = roc_auc_score(y_test, risk)
    brier = brier_score_loss(y_test, risk)
    base_rate = np.full(len(y_test), y_train.mean())
    assert auc >= 0.75, auc
    assert brier < brier_score_loss(y_test, base_rate), brier
    assert roc_auc_score(y_test, base_rate) == 0.5


def _write(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


def _tiny() -> pd.DataFrame:
    values = {column: [1, 2] for column in TAIWAN_COLUMNS}
    values["LIMIT_BAL"] = [5e05, 1e04]
    values["EDUCATION"] = [0, 6]
    values["default.payment.next.month"] = [0, 1]
    return pd.DataFrame(values)


def test_loader_reads_a_folder_or_a_file_with_r_style_numbers(tmp_path: Path) -> None:
    """A folder or the file itself; 5e+05 becomes the int 500000; undocumented codes 'unknown'."""
    path = _write(tmp_path / "UCI_Credit_Card.csv", _tiny())
    X, y = load_taiwan_credit(tmp_path)
    assert X["LIMIT_BAL"].tolist() == [500_000, 10_000]
    assert X["EDUCATION"].tolist() == ["unknown", "unknown"]
    assert X["SEX"].tolist() == ["male", "female"]
    assert y.tolist() == [0, 1]
    pd.testing.assert_frame_equal(load_taiwan_credit(path)[0], X)


def test_missing_column_names_the_file(tmp_path: Path) -> None:
    """A file without a required column raises DataError with the file and the column."""
    path = _write(tmp_path / "UCI_Credit_Card.csv", _tiny().drop(columns=["PAY_AMT6"]))
    with pytest.raises(DataError, match=r"UCI_Credit_Card\.csv: required column\(s\) PAY_AMT6"):
        load_taiwan_credit(path)


def test_missing_file_and_fractions_are_errors(tmp_path: Path) -> None:
    """No file, or an amount with a fraction, raises DataError naming the file."""
    with pytest.raises(DataError, match="file not found") as info:
        load_taiwan_credit(tmp_path)
    assert info.value.path == str(tmp_path / "UCI_Credit_Card.csv")
    bad = _tiny()
    bad["BILL_AMT3"] = [1.5, 2.0]
    path = _write(tmp_path / "UCI_Credit_Card.csv", bad)
    with pytest.raises(DataError, match=r"line 2, column 'BILL_AMT3': 1\.5 is not a whole"):
        load_taiwan_credit(path)
