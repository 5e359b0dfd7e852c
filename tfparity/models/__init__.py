"""The registry of whole models (``--suite models``): ``MODELS`` maps a name to its :class:`ModelSpec`."""

from tfparity.cases import Registry
from tfparity.models import applications, blocks, digits, mtcnn_nets

MODELS = Registry()
MODELS.add(digits.SPEC, *mtcnn_nets.SPECS, *blocks.SPECS, *applications.SPECS)
