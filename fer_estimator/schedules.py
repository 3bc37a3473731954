"""Learning-rate schedules of FERClassifier that are callbacks, so they resume exactly.

The rate is a function of the epoch and batch index alone, so a fit resumed from a per-epoch
checkpoint (``keras.callbacks.BackupAndRestore``) continues the same curve.
"""

import math

import keras


class WarmupCosineSchedule(keras.callbacks.Callback):
    """Linear warm-up to ``peak_learning_rate``, then cosine decay to zero at the last epoch.

    Updated before every batch, so the warm-up is smooth even when it lasts one epoch.

    Parameters
    ----------
    peak_learning_rate : float
        Rate reached at the end of the warm-up.
    epochs : int
        Length of the whole schedule, warm-up included.
    warmup_epochs : float, default=0
        Length of the linear warm-up, in epochs (may be fractional).
    """

    def __init__(self, peak_learning_rate, epochs, warmup_epochs=0.0):
        super().__init__()
        self.peak_learning_rate = peak_learning_rate
        self.epochs = epochs
        self.warmup_epochs = warmup_epochs
        self._epoch = 0

    def rate_at(self, progress):
        """The learning rate after ``progress`` epochs (a float in ``[0, epochs]``)."""
        if progress < self.warmup_epochs:
            return self.peak_learning_rate * progress / self.warmup_epochs
        decay_length = max(self.epochs - self.warmup_epochs, 1e-9)
        fraction = min((progress - self.warmup_epochs) / decay_length, 1.0)
        return 0.5 * self.peak_learning_rate * (1.0 + math.cos(math.pi * fraction))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        steps = self.params.get("steps") or 1
        # +1: the first batch of a warm-up already moves (a zero rate would waste it).
        self.model.optimizer.learning_rate = self.rate_at(self._epoch + (batch + 1) / steps)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(
                keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
