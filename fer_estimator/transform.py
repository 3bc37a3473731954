"""PixelTransformer: FER2013 pixel strings or image arrays -> normalised float32 image batches for
a CNN."""

import inspect
import math
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._validation import Interval, Options, StrOptions
from .data import IMAGE_SIZE
from .pixels import NORMALIZATIONS, grey_images, normalize

# The largest image_size: every image becomes image_size**2 float32 values (4 MB at 1024).
MAX_IMAGE_SIZE = 1024


class PixelTransformer(TransformerMixin, BaseEstimator):
    """Turn FER2013 pixel strings or images into normalised float32 batches of shape
    (n, size, size, 1).

    Accepted X (all pixel values on the 0-255 grey scale, integer or float, unless
    ``input_scale=1``):

    - pixel strings (list, 1-D ndarray, pandas Series) of 48x48 values, as in the FER2013 CSV;
    - a pandas DataFrame with a ``pixels`` column of such strings;
    - flat arrays of shape (n_samples, 2304) (48x48), or (n_samples, image_size**2);
    - images of shape (n_samples, H, W), (n_samples, H, W, 1) or (n_samples, H, W, 3); three
      channels are taken as RGB (convert OpenCV's BGR first) and turned grey with BT.601 weights;
    - a list of 2-D (or H, W, C) images of different sizes, such as face crops.

    Images of another size than ``image_size`` are resized with ``cv2.INTER_AREA``.

    Ambiguous input is refused rather than guessed: a single image must be given as
    ``(1, H, W)`` or in a list (a 2-D array is a batch of flat rows), and float images whose
    values all lie in [0, 1] are refused unless ``input_scale=1`` says they are on that scale
    (read as 0-255 grey levels they would all be nearly black).

    Parameters
    ----------
    normalization : {"scale", "standardize", "per_image"}, default="scale"
        ``"scale"``: pixels / 255, in [0, 1]. ``"standardize"``: ``(pixels / 255 - mean_) /
        scale_`` with one mean and standard deviation learned in ``fit``, so cross-validation
        folds never see their test data's statistics. ``"per_image"``: each image minus its own
        mean, divided by its own standard deviation (at least one grey level, 1/255).
    image_size : int, default=48
        Side of the square output images.
    input_scale : {255, 1}, default=255
        The value of white in numeric X: 255 for grey levels 0-255 (uint8 and most float
        images), 1 for floats on the 0-1 scale (``skimage.img_as_float``, images divided by
        255). Pixel strings are always 0-255.

    Attributes
    ----------
    mean_ : float or None
        Mean of the fitted pixels on the 0-1 scale; None unless ``normalization="standardize"``.
    scale_ : float or None
        Their standard deviation (1.0 when they are all equal); None unless
        ``normalization="standardize"``.

    Notes
    -----
    ``n_features_in_`` is not set: X is strings or images of any size, not a fixed number of
    tabular features, and requiring the fitted shape at transform time would reject face crops.
    ``get_feature_names_out`` is not provided either: the output is a 4-D image batch, which has
    no named columns (so ``set_output(transform="pandas")`` does not apply).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((2, 48, 48), dtype=np.uint8)
    >>> PixelTransformer().fit_transform(X).shape
    (2, 48, 48, 1)
    """

    _parameter_constraints: ClassVar[dict] = {
        "normalization": [StrOptions(set(NORMALIZATIONS))],
        "image_size": [Interval(Integral, 1, MAX_IMAGE_SIZE, closed="both")],
        "input_scale": [Options(Real, {1, 255})],
    }

    def __init__(self, normalization="scale", image_size=IMAGE_SIZE, input_scale=255):
        self.normalization = normalization
        self.image_size = image_size
        self.input_scale = input_scale

    def __setstate__(self, state):
        # A transformer saved before a parameter existed behaves as its default says.
        for name, parameter in inspect.signature(PixelTransformer.__init__).parameters.items():
            if parameter.default is not inspect.Parameter.empty:
                state.setdefault(name, parameter.default)
        super().__setstate__(state)

    def fit(self, X, y=None):
        """Check the parameters and X, and learn ``mean_``/``scale_`` in "standardize" mode.

        Parameters
        ----------
        X : pixel strings, DataFrame with a ``pixels`` column, or image array
            See the class docstring.
        y : ignored

        Returns
        -------
        self : PixelTransformer
        """
        self._fit_images(self._grey_images(X))
        return self

    def transform(self, X):
        """Return normalised images.

        Parameters
        ----------
        X : pixel strings, DataFrame with a ``pixels`` column, or image array
            See the class docstring.

        Returns
        -------
        images : ndarray of shape (n_samples, image_size, image_size, 1), dtype float32
        """
        check_is_fitted(self)
        return self._normalize(self._grey_images(X))

    def fit_transform(self, X, y=None):
        """Fit on X and return it transformed, parsing X only once.

        Parameters
        ----------
        X : pixel strings, DataFrame with a ``pixels`` column, or image array
            See the class docstring.
        y : ignored

        Returns
        -------
        images : ndarray of shape (n_samples, image_size, image_size, 1), dtype float32
        """
        images = self._grey_images(X)
        self._fit_images(images)
        return self._normalize(images)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.three_d_array = True
        return tags

    def to_safe_description(self):
        """Hook of the safe ``.fer.zip`` format: the fitted statistics it stores beside the
        parameters (see :mod:`fer_estimator.safe_format.steps`)."""
        check_is_fitted(self)
        return {"fitted": {"mean_": self.mean_, "scale_": self.scale_}}

    @classmethod
    def from_safe_description(cls, params, description, network):
        """Hook of the safe ``.fer.zip`` format: the fitted transformer of a step table, whose
        images must be the ``network``'s input (see :mod:`fer_estimator.safe_format.steps`)."""
        transformer = cls(**params)
        transformer._validate_params()
        side, channels = tuple(network.input_shape[1:3]), network.input_shape[3]
        if side != (transformer.image_size,) * 2 or channels != 1:
            raise ValueError(f"'image_size' is {transformer.image_size!r:.50}: the transformer "
                             f"makes {transformer.image_size!r:.50} pixels a side images of 1 "
                             f"channel, the network takes {side[0]}x{side[1]} images of "
                             f"{channels} channel(s)")
        fitted = description.get("fitted")
        if not isinstance(fitted, dict) or set(fitted) != {"mean_", "scale_"}:
            raise ValueError(f"'fitted' must be a table of 'mean_' and 'scale_'; it is "
                             f"{fitted!r:.200}")
        standardize = transformer.normalization == "standardize"
        for key, value in fitted.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            if standardize and not (number and math.isfinite(value)
                                    and (key == "mean_" or value > 0)):
                raise ValueError(f"'fitted.{key}' must be a finite number"
                                 f"{' above 0' if key == 'scale_' else ''} for normalization "
                                 f"'standardize'; it is {value!r:.50}")
            if not standardize and value is not None:
                raise ValueError(f"'fitted.{key}' must be null for normalization "
                                 f"{transformer.normalization!r}; it is {value!r:.50}")
            setattr(transformer, key, value)
        return transformer

    def _fit_images(self, images):
        self.mean_ = self.scale_ = None
        if self.normalization == "standardize":
            # Statistics of images / 255, computed without materialising that scaled copy.
            self.mean_ = float(images.mean(dtype=np.float64)) / 255
            std = float(images.std(dtype=np.float64)) / 255
            self.scale_ = std if std > np.finfo(np.float32).eps else 1.0

    def _normalize(self, images):
        return normalize(images, self.normalization, self.mean_, self.scale_)

    def _grey_images(self, X):
        """X as float32 grey images of shape (n, image_size, image_size) on the 0-255 scale."""
        # Here, not in fit alone: transform after set_params meets the same checks.
        self._validate_params()
        return grey_images(X, self.image_size, self.input_scale)
