"""Named FERClassifier settings for small networks: one home for the demo's, the search's and
the tests' networks. ``fer-estimator train --preset NAME`` and ``fer-estimator search --preset
NAME`` start from them; ``--param`` overrides single values.

Each preset is a dict of FERClassifier parameters; unset parameters keep the classifier's
defaults (the full-size reference network). No preset sets ``random_state``: the commands' own
``--seed`` seeds the network, and code wanting a fixed network adds it
(``FERClassifier(**TINY, random_state=0)``).
"""

NO_AUGMENTATION = dict(horizontal_flip=False, shift_range=0.0, zoom_range=0.0)
# No validation split, early stopping or learning-rate reduction: every epoch trains on all rows.
NO_SCHEDULE = dict(validation_fraction=0.0, early_stopping_patience=None,
                   reduce_lr_patience=None)

# Small and quick: a search study on a CPU takes minutes, not hours (its depth is tuned).
QUICK = dict(base_filters=16, dense_units=(64,), epochs=8, early_stopping_patience=3,
             reduce_lr_patience=2)
# Trains in about a minute on two CPU cores, and still learns the synthetic faces.
SYNTHETIC_DEMO = dict(QUICK, depth=2)
# The tests' networks train in float32: the same numbers on every CPU and backend ("auto" is
# bfloat16 on some CPUs only).
# Fits in seconds on two CPU cores, still able to learn the synthetic faces (the tests).
TINY = dict(depth=2, base_filters=8, dense_units=(32,), epochs=6, batch_size=32,
            precision="float32", **NO_SCHEDULE, **NO_AUGMENTATION)
# The smallest network that runs: for tests of the plumbing, not of learning.
MICRO = dict(depth=1, base_filters=4, dense_units=(16,), epochs=2, batch_size=32,
             precision="float32", **NO_SCHEDULE, **NO_AUGMENTATION)

PRESETS = {"quick": QUICK, "synthetic-demo": SYNTHETIC_DEMO, "tiny": TINY, "micro": MICRO}
