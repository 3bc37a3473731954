"""Training batches that mix pairs of images (mixup and CutMix).

Keras' ``MixUp`` and ``CutMix`` layers take the labels with the images, so they cannot sit in
the network beside the other augmentation layers (which see images only); they belong in the
data pipeline. :class:`MixedBatches` is that pipeline for in-memory arrays: a
``keras.utils.PyDataset`` (any backend) that shuffles every epoch and mixes each batch with a
permutation of itself, in NumPy.
"""

import math

import keras
import numpy as np

__all__ = ["MixedBatches"]


class MixedBatches(keras.utils.PyDataset):
    """Shuffled batches of ``(x, y[, sample_weight])``, each mixed by mixup or CutMix.

    Every batch draws ``lam ~ Beta(alpha, alpha)`` and pairs each image with another of the
    batch. Mixup (Zhang et al., 2018) blends the two images and their targets by ``lam``;
    CutMix (Yun et al., 2019) pastes a box of the other image covering ``1 - lam`` of the area
    and mixes the targets by the area actually pasted. With both alphas set, each batch is one
    or the other at random (half the batches each).

    Parameters
    ----------
    x : ndarray of shape (n, height, width, channels)
    y : ndarray of shape (n, n_classes)
        One-hot or soft targets (they are mixed, so they must be probabilities).
    sample_weight : ndarray of shape (n,) or None
        Mixed like the targets.
    batch_size : int
    mixup_alpha, cutmix_alpha : float
        Beta parameters; 0 switches that mix off.
    seed : int or None
        Seeds the shuffling and the mixing.
    """

    def __init__(self, x, y, sample_weight, *, batch_size, mixup_alpha, cutmix_alpha, seed):
        super().__init__()
        if not mixup_alpha and not cutmix_alpha:
            raise ValueError("MixedBatches needs mixup_alpha or cutmix_alpha above 0")
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = batch_size
        self.mixup_alpha, self.cutmix_alpha = mixup_alpha, cutmix_alpha
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(len(x))

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def on_epoch_end(self):
        self._order = self._rng.permutation(len(self.x))

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        x, y = self.x[rows].copy(), self.y[rows].astype(np.float32)
        weight = None if self.sample_weight is None else self.sample_weight[rows]
        partner = self._rng.permutation(len(rows))
        use_cutmix = self.cutmix_alpha and (not self.mixup_alpha or self._rng.random() < 0.5)
        if use_cutmix:
            lam = self._paste_box(x, partner, self._rng.beta(self.cutmix_alpha,
                                                             self.cutmix_alpha))
        else:
            lam = self._rng.beta(self.mixup_alpha, self.mixup_alpha)
            x = lam * x + (1.0 - lam) * x[partner]
        y = lam * y + (1.0 - lam) * y[partner]
        if weight is None:
            return x.astype(self.x.dtype, copy=False), y
        return x.astype(self.x.dtype, copy=False), y, lam * weight + (1.0 - lam) * weight[partner]

    def _paste_box(self, x, partner, lam):
        """Paste into every image the same random box of its partner; return the share of
        the area left unpasted (the box is clipped at the borders)."""
        height, width = x.shape[1:3]
        cut = math.sqrt(1.0 - lam)
        box_h, box_w = round(height * cut), round(width * cut)
        centre_y, centre_x = self._rng.integers(height), self._rng.integers(width)
        top, bottom = max(centre_y - box_h // 2, 0), min(centre_y + box_h - box_h // 2, height)
        left, right = max(centre_x - box_w // 2, 0), min(centre_x + box_w - box_w // 2, width)
        x[:, top:bottom, left:right] = x[partner, top:bottom, left:right]
        return 1.0 - (bottom - top) * (right - left) / (height * width)
