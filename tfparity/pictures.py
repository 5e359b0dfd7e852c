"""Pictures of a mismatch: reference, lane output and |difference| as a heat map, side by side.

Written during the run for image-shaped (NHWC) outputs of fail/xfail records, because people judge
an image op by looking at it. Shows batch 0; RGB when the image has 3 channels, else channel 0.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _view(image: np.ndarray) -> np.ndarray:
    first = np.asarray(image, np.float64)[0]
    return first if first.shape[-1] == 3 else first[..., 0]


def save_comparison(path: Path, expected: np.ndarray, actual: np.ndarray, title: str) -> Path:
    """Write a PNG triptych to ``path``; the colour scale of both images is the reference's range."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref, out = _view(expected), _view(actual)
    lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
    span = hi - lo or 1.0
    diff = np.abs(out - ref)
    diff = diff.max(axis=-1) if diff.ndim == 3 else diff
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.3), dpi=80)
    for ax, image, name in ((axes[0], ref, "reference"), (axes[1], out, "lane output")):
        shown = np.clip((image - lo) / span, 0, 1)
        ax.imshow(shown, cmap=None if shown.ndim == 3 else "gray", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(name, fontsize=9)
    heat = axes[2].imshow(diff, cmap="inferno", interpolation="nearest")
    axes[2].set_title(f"|difference| (max {diff.max():.3g})", fontsize=9)
    fig.colorbar(heat, ax=axes[2], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
