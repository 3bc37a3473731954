"""Emotions of every face in photos and videos: detection, cropping, batched classification."""

from .pipeline import FacePipeline
from .results import Face, FaceResults, ImageFaces

__all__ = ["Face", "FacePipeline", "FaceResults", "ImageFaces"]
