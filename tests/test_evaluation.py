"""Evaluation of fitted pipelines: accuracy with and without TTA, per-class scores, figures."""

import numpy as np
import pytest

from fer_estimator import EMOTIONS, make_fer_pipeline
from fer_estimator.evaluation import evaluate, format_report, save_figures


@pytest.fixture(scope="module")
def fitted_pipeline(synthetic_split, tiny_cnn):
    X_train, y_train, _, _ = synthetic_split
    names = np.array(EMOTIONS)
    return make_fer_pipeline(**tiny_cnn(epochs=3)).fit(X_train, names[y_train])


def test_report_matches_sklearn_scores(fitted_pipeline, synthetic_split):
    _, _, X_test, y_test = synthetic_split
    names = np.array(EMOTIONS)[y_test]
    report = evaluate(fitted_pipeline, X_test, names, progress=False)
    assert report["accuracy"] == pytest.approx(fitted_pipeline.score(X_test, names))
    fitted_pipeline.set_params(cnn__tta=True)
    try:
        assert report["accuracy_tta"] == pytest.approx(fitted_pipeline.score(X_test, names))
    finally:
        fitted_pipeline.set_params(cnn__tta=False)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (7, 7) and matrix.sum() == len(y_test)
    assert set(report["per_class"]) == set(EMOTIONS)
    assert sum(scores["support"] for scores in report["per_class"].values()) == len(y_test)
    assert "accuracy TTA" in format_report(report)
    recalls = [scores["recall"] for scores in report["per_class"].values()
               if scores["support"] > 0]
    assert report["balanced_accuracy"] == pytest.approx(np.mean(recalls))
    assert "balanced acc." in format_report(report)


def test_tta_setting_is_left_as_it_was(fitted_pipeline, synthetic_split):
    _, _, X_test, y_test = synthetic_split
    fitted_pipeline.set_params(cnn__tta=True)
    try:
        report = evaluate(fitted_pipeline, X_test[:50], np.array(EMOTIONS)[y_test[:50]],
                          progress=False)
        assert fitted_pipeline.named_steps["cnn"].tta is True
        assert report["accuracy"] == pytest.approx(
            fitted_pipeline.set_params(cnn__tta=False).score(
                X_test[:50], np.array(EMOTIONS)[y_test[:50]]))
    finally:
        fitted_pipeline.set_params(cnn__tta=False)


def test_figures_are_written(fitted_pipeline, synthetic_split, tmp_path):
    _, _, X_test, y_test = synthetic_split
    report = evaluate(fitted_pipeline, X_test, np.array(EMOTIONS)[y_test], progress=False)
    written = save_figures(fitted_pipeline, report, tmp_path)
    assert [path.name for path in written] == ["confusion_matrix.png", "training_curves.png"]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in written)


def test_empty_evaluation_set_is_an_error(fitted_pipeline):
    with pytest.raises(ValueError, match="empty"):
        evaluate(fitted_pipeline, np.zeros((0, 48, 48), np.uint8), [], progress=False)
