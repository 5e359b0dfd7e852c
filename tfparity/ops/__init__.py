"""The registry of every op suite tfparity runs."""

from tfparity.cases import Registry
from tfparity.ops import conv, elementwise, pool, resize

REGISTRY = Registry()
for _module in (conv, pool, elementwise, resize):
    REGISTRY.add(*_module.SPECS)
