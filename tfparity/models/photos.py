"""Real photographs shipped with scikit-image (``skimage.data``), resized and cropped deterministically."""

from __future__ import annotations

from functools import cache

import numpy as np

NAMES = ("astronaut", "chelsea", "coffee", "rocket")


@cache
def photo(name: str) -> np.ndarray:
    """RGB pixels in [0, 255], float32, HWC."""
    import skimage.data

    return getattr(skimage.data, name)().astype(np.float32)


def resize(image: np.ndarray, size: int) -> np.ndarray:
    from skimage.transform import resize as sk_resize

    return sk_resize(image, (size, size), order=1, anti_aliasing=True, preserve_range=True).astype(np.float32)


def crop(image: np.ndarray, cx: float, cy: float, side: float, size: int) -> np.ndarray:
    """The square of ``side`` px centred near ``(cx, cy)`` (moved inside the image), resized to ``size``."""
    h, w = image.shape[:2]
    side = int(min(side, h, w))
    x0 = int(np.clip(round(cx - side / 2), 0, w - side))
    y0 = int(np.clip(round(cy - side / 2), 0, h - side))
    return resize(image[y0:y0 + side, x0:x0 + side], size)


def random_crops(rng: np.random.Generator, count: int, size: int) -> np.ndarray:
    """``count`` seeded crops (40 to 300 px windows) of the photos, stacked NHWC in [0, 255]."""
    out = []
    for _ in range(count):
        image = photo(NAMES[int(rng.integers(len(NAMES)))])
        out.append(crop(image, *rng.uniform(0, image.shape[1::-1]), rng.uniform(40, 300), size))
    return np.stack(out)
