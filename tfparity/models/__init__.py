"""The registry of whole models (``--suite models``): ``MODELS`` maps a name to its :class:`ModelSpec`."""

from tfparity.cases import Registry
from tfparity.models import applications, blocks, digits, mtcnn_graph, mtcnn_nets, pipeline

MODELS = Registry()
MODELS.add(digits.SPEC, *mtcnn_nets.SPECS, *mtcnn_graph.SPECS, *pipeline.SPECS, *blocks.SPECS, *applications.SPECS)
