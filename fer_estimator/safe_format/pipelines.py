"""A pipeline (or a bare classifier) as a list of step tables and one network, and back."""

from sklearn.pipeline import Pipeline

from .errors import SafeFormatError
from .networks import check_network_shapes
from .steps import describe_step, rebuild_step


def describe_pipeline(model):
    """The step tables of a pipeline's (or a bare classifier's) steps, and its network."""
    steps = model.steps if isinstance(model, Pipeline) else [(None, model)]
    described = [describe_step(name, step, final=index == len(steps) - 1)
                 for index, (name, step) in enumerate(steps)]
    return described, steps[-1][1].model_


def build_pipeline(steps, network, where, pipeline, rebuild_classifier=None):
    """A Pipeline of the step tables ``steps`` around ``network`` (or its one classifier
    unless ``pipeline``); ``where`` names the file (and member) in errors.

    ``rebuild_classifier(description, network, where)`` rebuilds the last step instead of its
    registered class (the ONNX runtime's classifier around an ONNX network, which has the
    ``input_shape`` and ``output_shape`` of a Keras one)."""
    check_network_shapes(network, where)
    last = len(steps) - 1
    built = [(step.get("name"),
              rebuild_classifier(step, network, f"{where}: step {index}")
              if index == last and rebuild_classifier is not None
              else rebuild_step(step, network, f"{where}: step {index}", final=index == last))
             for index, step in enumerate(steps)]
    if not pipeline:
        if len(built) != 1:
            raise SafeFormatError(f"{where}: a bare classifier is exactly one step; the "
                                  f"description lists {len(built)}")
        return built[-1][1]
    names = [name for name, _ in built]
    if not all(isinstance(name, str) for name in names) or len(set(names)) != len(names):
        raise SafeFormatError(f"{where}: invalid pipeline step names {names}")
    return Pipeline(built)
