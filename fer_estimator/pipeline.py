"""The standard FER pipeline: pixel parsing/normalisation, then the CNN."""

from sklearn.pipeline import Pipeline

from .classifier import FERClassifier
from .transform import PixelTransformer


def make_fer_pipeline(normalization="scale", **cnn_params):
    """Build ``Pipeline([("pixels", PixelTransformer), ("cnn", FERClassifier)])``.

    Parameters
    ----------
    normalization : {"scale", "standardize", "per_image"}, default="scale"
        Normalisation of the :class:`~fer_estimator.PixelTransformer`.
    **cnn_params
        Parameters of the :class:`~fer_estimator.FERClassifier`.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted; its steps are named ``"pixels"`` and ``"cnn"`` (so ``cnn__dropout`` works
        in ``set_params`` and parameter grids).
    """
    return Pipeline([
        ("pixels", PixelTransformer(normalization=normalization)),
        ("cnn", FERClassifier(**cnn_params)),
    ])
