"""The 6-class variant derived from a 7-class pipeline."""

import joblib
import numpy as np

from fer_estimator import EMOTIONS, EMOTIONS_6, make_fer_pipeline
from fer_estimator.labels import merge_disgust_into_angry
from fer_estimator.variants import six_class_from_seven


def test_six_class_probabilities_merge_disgust_into_angry(synthetic_split, tmp_path, tiny_cnn):
    X_train, y_train, X_test, y_test = synthetic_split
    seven = make_fer_pipeline(**tiny_cnn(epochs=2)).fit(X_train, np.array(EMOTIONS)[y_train])
    proba_before = seven.predict_proba(X_test[:20])
    six = six_class_from_seven(seven)
    assert sorted(six.classes_) == sorted(EMOTIONS_6)

    proba7 = dict(zip(seven.classes_, seven.predict_proba(X_test[:20]).T, strict=True))
    proba6 = dict(zip(six.classes_, six.predict_proba(X_test[:20]).T, strict=True))
    np.testing.assert_allclose(proba6["Angry"], proba7["Angry"] + proba7["Disgust"], rtol=1e-5)
    np.testing.assert_allclose(proba6["Happy"], proba7["Happy"], rtol=1e-5)

    joblib.dump(six, tmp_path / "six.joblib")
    loaded = joblib.load(tmp_path / "six.joblib")
    names6 = np.array(EMOTIONS_6)[merge_disgust_into_angry(y_test)]
    assert loaded.score(X_test, names6) == six.score(X_test, names6)
    # The two pipelines share the network's layers: the 7-class one predicts as before.
    np.testing.assert_allclose(seven.predict_proba(X_test[:20]), proba_before, rtol=1e-6)


def test_the_variant_builds_no_network_and_seeds_nothing(synthetic_split, micro_cnn,
                                                         forbid_network_building,
                                                         global_rng_untouched):
    X_train, y_train, X_test, _ = synthetic_split
    seven = make_fer_pipeline(**micro_cnn()).fit(X_train[:200], np.array(EMOTIONS)[y_train[:200]])

    forbid_network_building()
    with global_rng_untouched():
        six = six_class_from_seven(seven)  # seven has random_state=0
    assert six[-1].random_state == 0 and six[-1].model is None
    assert list(six.classes_) == sorted(EMOTIONS_6)
    np.testing.assert_allclose(six.predict_proba(X_test[:5]).sum(axis=1), 1, rtol=1e-5)
