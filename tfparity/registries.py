"""The case registries of a suite, together: ``ops`` (:data:`tfparity.ops.REGISTRY`), ``models``
(:data:`tfparity.models.MODELS`) or ``all``. One place resolves op and model names for the CLI, the pytest
plugin and its crash records, and registers a bring-your-own ``--model``."""

from __future__ import annotations

FROZEN_OPTIONS = {  # --model GRAPH.pb: the frozen graph's arrays (command line and pytest alike)
    "--input-arrays": "with --model GRAPH.pb: its input placeholders, comma-separated",
    "--output-arrays": "with --model GRAPH.pb: its output nodes, comma-separated",
    "--input-shapes": "with --model GRAPH.pb: NAME=1x24x24x3,... where the graph leaves a dimension unknown",
}


def registries(suite: str = "all") -> list:
    from tfparity.models import MODELS
    from tfparity.ops import REGISTRY

    return [r for name, r in (("ops", REGISTRY), ("models", MODELS)) if suite in (name, "all")]


def check_names(names, suite: str = "all") -> None:
    """ValueError naming any of ``names`` that is neither an op nor a model of ``suite``."""
    known = [n for r in registries(suite) for n in r.specs]
    unknown = sorted(set(names or ()) - set(known))
    if unknown:
        raise ValueError(f"unknown op or model {', '.join(unknown)} in suite {suite}; known: {', '.join(known)}")


def select(suite: str, profile: str, seed: int, names: list[str] | None = None, limit: int | None = None) -> list:
    """Cases of ``suite``'s registries, restricted to ``names`` (ops or models) if given."""
    check_names(names, suite)
    wanted = [(r, [n for n in names if n in r.specs] if names else None) for r in registries(suite)]
    return [c for r, ops in wanted if ops is None or ops for c in r.select(profile, seed, ops=ops, limit=limit)]


def frozen_arrays(get) -> dict:
    """``input_arrays``, ``output_arrays``, ``input_shapes`` read with ``get(dest)`` (argparse or pytest options)."""
    return {option[2:].replace("-", "_"): get(option[2:].replace("-", "_")) for option in FROZEN_OPTIONS}


def add_given_model(path: str, inputs_file: str | None = None, arrays: dict | None = None) -> str:
    """Register the model file ``path`` (``--model``; replacing an earlier one; ``arrays``: a frozen graph's
    ``input_arrays``, ``output_arrays``, ``input_shapes``) in the model registry and return its name. A bad path
    or file raises ValueError with one line."""
    from tfparity.models import MODELS, byo

    MODELS.specs.pop(byo.NAME, None)
    MODELS.add(byo.given_model(path, inputs_file, arrays))
    return byo.NAME
