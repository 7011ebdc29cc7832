"""skdann.plot draws the expected artists (axes, lines, legends, scatter points), not pixels."""

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.colors as mcolors  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.decomposition import TruncatedSVD  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skdann import DANNClassifier  # noqa: E402
from skdann.plot import plot_domains, plot_history  # noqa: E402

N_EPOCHS = 3


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    ys = rng.randint(0, 2, 60)
    yt = rng.randint(0, 2, 40)
    Xs = np.c_[ys * 2.0, 1 - ys] + rng.normal(scale=0.3, size=(60, 2))
    Xt = np.c_[yt * 2.0, 1 - yt] + rng.normal(scale=0.3, size=(40, 2)) + [0.5, -0.5]
    return Xs, ys, Xt, yt


@pytest.fixture(scope="module")
def models(data):
    Xs, ys, Xt, _ = data
    kw = {"max_epochs": N_EPOCHS, "batch_size": 16, "random_state": 0,
          "extractor__hidden_sizes": (8, 8)}
    dann = DANNClassifier(**kw).fit(Xs, ys, Xt)
    source_only = DANNClassifier(lambda_max=0, **kw).fit(Xs, ys, Xt)
    return dann, source_only


def _legend_texts(ax):
    legend = ax.get_legend()
    assert legend is not None
    return [t.get_text() for t in legend.get_texts()]


def _points(ax):
    return [len(c.get_offsets()) for c in ax.collections]


# ------------------------------------------------------------------ history
def test_history_panels_lines_and_legends(models):
    dann, _ = models
    fig = plot_history(dann)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 4
    ax_loss, ax_acc, ax_lambda, ax_lr = fig.axes
    assert [ax.get_title() for ax in fig.axes] == [
        "losses", "domain classifier accuracy", "adversarial weight λ", "learning rate"]
    assert len(ax_loss.lines) == 3
    assert _legend_texts(ax_loss) == ["label loss", "domain loss", "total (train_loss)"]
    assert len(ax_acc.lines) == 2
    assert _legend_texts(ax_acc) == ["domain accuracy", "chance (0.5)"]
    assert len(ax_lambda.lines) == 1 and len(ax_lr.lines) == 1
    assert ax_lr.get_yscale() == "log"
    assert ax_lambda.get_xlabel() == ax_lr.get_xlabel() == "epoch"
    # Every curve has one point per epoch, at epochs 1..n.
    for ax in fig.axes:
        for line in ax.lines:
            if line.get_label() == "chance (0.5)":
                continue
            np.testing.assert_array_equal(line.get_xdata(), np.arange(1, N_EPOCHS + 1))


def test_history_values_match_the_history(models):
    dann, _ = models
    fig = plot_history(dann)
    ax_loss, ax_acc, ax_lambda, ax_lr = fig.axes
    h = dann.history_
    np.testing.assert_allclose(ax_loss.lines[0].get_ydata(), h[:, "label_loss"])
    np.testing.assert_allclose(ax_loss.lines[1].get_ydata(), h[:, "domain_loss"])
    np.testing.assert_allclose(ax_loss.lines[2].get_ydata(), h[:, "train_loss"])
    np.testing.assert_allclose(ax_acc.lines[0].get_ydata(), h[:, "domain_acc"])
    np.testing.assert_allclose(ax_lambda.lines[0].get_ydata(), h[:, "lambda"])
    np.testing.assert_allclose(ax_lr.lines[0].get_ydata(), h[:, "lr"])


def test_history_chance_line_is_dashed_at_one_half(models):
    fig = plot_history(models[0])
    chance = fig.axes[1].lines[1]
    assert chance.get_linestyle() == "--"
    np.testing.assert_array_equal(chance.get_ydata(), [0.5, 0.5])


def test_history_draws_into_given_axes(models):
    fig, axs = plt.subplots(1, 4)
    out = plot_history(models[0], axes=axs)
    assert out is fig
    assert len(fig.axes) == 4
    assert [len(ax.lines) for ax in axs] == [3, 2, 1, 1]


def test_history_axes_count_is_checked(models):
    _, axs = plt.subplots(1, 3)
    with pytest.raises(ValueError, match="4 panels"):
        plot_history(models[0], axes=axs)


def test_history_accepts_pipeline_net_and_history(data, models):
    Xs, ys, Xt, _ = data
    pipe = make_pipeline(StandardScaler(), DANNClassifier(max_epochs=2, random_state=0))
    pipe.fit(np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)])
    assert len(plot_history(pipe).axes[0].lines[0].get_xdata()) == 2
    dann = models[0]
    for obj in (dann.net_, dann.history_):
        assert len(plot_history(obj).axes[0].lines[0].get_xdata()) == N_EPOCHS


def test_history_of_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        plot_history(DANNClassifier())
    with pytest.raises(TypeError, match="plot_history needs"):
        plot_history(object())


# ------------------------------------------------------------------ domains
def test_domains_without_labels(data, models):
    Xs, _, Xt, _ = data
    fig = plot_domains(models[0], Xs, Xt)
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert _points(ax) == [len(Xs), len(Xt)]
    assert _legend_texts(ax) == ["source", "target"]
    assert ax.get_title() == "DANN (λ_max = 0.3)"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC 1", "PC 2")
    assert len(ax.lines) == 0


def test_domains_colour_by_domain_marker_by_class(data, models):
    Xs, ys, Xt, yt = data
    fig = plot_domains(models[0], Xs, Xt, y_source=ys, y_target=yt)
    ax = fig.axes[0]
    counts = [np.sum(ys == 0), np.sum(ys == 1), np.sum(yt == 0), np.sum(yt == 1)]
    assert _points(ax) == counts
    assert _legend_texts(ax) == ["source", "target", "class 0", "class 1"]
    blue, orange = mcolors.to_rgb("tab:blue"), mcolors.to_rgb("tab:orange")
    colours = [tuple(c.get_facecolor()[0][:3]) for c in ax.collections]
    np.testing.assert_allclose(colours, [blue, blue, orange, orange])
    # One marker per class, the same in both domains.
    paths = [c.get_paths()[0].vertices.shape for c in ax.collections]
    assert paths[0] == paths[2] and paths[1] == paths[3] and paths[0] != paths[1]


def test_domains_source_labels_only(data, models):
    Xs, ys, Xt, _ = data
    ax = plot_domains(models[0], Xs, Xt, y_source=ys).axes[0]
    assert _points(ax) == [np.sum(ys == 0), np.sum(ys == 1), len(Xt)]
    assert _legend_texts(ax) == ["source", "target", "class 0", "class 1", "unlabelled"]
    # Unlabelled target rows must not share the marker of class 0 (or 1).
    paths = [c.get_paths()[0] for c in ax.collections]
    assert not any(np.array_equal(paths[2].vertices, p.vertices) for p in paths[:2])


def test_domains_from_sample_domain_split_rows_and_mark_the_unlabelled(data, models):
    Xs, ys, Xt, _ = data
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
    sd = np.r_[np.ones(len(Xs), int), -np.ones(len(Xt), int)]
    ax = plot_domains(models[0], X, y_source=y, sample_domain=sd).axes[0]
    assert _points(ax) == [np.sum(ys == 0), np.sum(ys == 1), len(Xt)]
    assert _legend_texts(ax)[-1] == "unlabelled"
    with pytest.raises(ValueError, match="X_target"):
        plot_domains(models[0], X, Xt, sample_domain=sd)


def test_domains_before_and_after_side_by_side(data, models):
    Xs, ys, Xt, _ = data
    dann, source_only = models
    fig = plot_domains(dann, Xs, Xt, y_source=ys, before=source_only)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["source only (λ_max = 0)", "DANN (λ_max = 0.3)"]
    for ax in fig.axes:
        assert sum(_points(ax)) == len(Xs) + len(Xt)
        assert len(_legend_texts(ax)) == 5
    # Each panel has its own projection of its own model's features.
    left, right = (np.vstack([c.get_offsets() for c in ax.collections]) for ax in fig.axes)
    assert not np.allclose(left, right)


def test_domains_projection_is_pca_of_features(data, models):
    from sklearn.decomposition import PCA

    Xs, _, Xt, _ = data
    dann = models[0]
    ax = plot_domains(dann, Xs, Xt).axes[0]
    expected = PCA(2, random_state=0).fit_transform(np.vstack([dann.transform(Xs),
                                                                dann.transform(Xt)]))
    np.testing.assert_allclose(ax.collections[0].get_offsets(), expected[:len(Xs)], atol=1e-5)
    np.testing.assert_allclose(ax.collections[1].get_offsets(), expected[len(Xs):], atol=1e-5)


def test_domains_pipeline(data):
    Xs, ys, Xt, _ = data
    X, y = np.vstack([Xs, Xt]), np.r_[ys, np.full(len(Xt), -1)]
    pipe = make_pipeline(StandardScaler(), DANNClassifier(max_epochs=2, random_state=0)).fit(X, y)
    before = make_pipeline(StandardScaler(),
                           DANNClassifier(max_epochs=2, lambda_max=0, random_state=0)).fit(X, y)
    fig = plot_domains(pipe, Xs, Xt, y_source=ys, before=before)
    assert len(fig.axes) == 2
    assert [sum(_points(ax)) for ax in fig.axes] == [len(Xs) + len(Xt)] * 2


def test_domains_tsne_and_custom_projection(data, models):
    Xs, _, Xt, _ = data
    ax = plot_domains(models[0], Xs, Xt, method="tsne", max_points=20).axes[0]
    assert _points(ax) == [20, 20]
    assert ax.get_xlabel() == "t-SNE 1"
    ax = plot_domains(models[0], Xs, Xt, method=TruncatedSVD(2, random_state=0)).axes[0]
    assert _points(ax) == [len(Xs), len(Xt)]


def test_domains_max_points_subsamples_labels_too(data, models):
    Xs, ys, Xt, yt = data
    ax = plot_domains(models[0], Xs, Xt, y_source=ys, y_target=yt, max_points=30).axes[0]
    pts = _points(ax)
    assert pts[0] + pts[1] == 30 and pts[2] + pts[3] == 30


def test_domains_draws_into_given_axes(data, models):
    Xs, _, Xt, _ = data
    fig, ax = plt.subplots()
    assert plot_domains(models[0], Xs, Xt, ax=ax) is fig
    assert len(ax.collections) == 2
    fig, axs = plt.subplots(1, 2)
    assert plot_domains(models[0], Xs, Xt, before=models[1], ax=axs) is fig
    with pytest.raises(ValueError, match="2 panel"):
        plot_domains(models[0], Xs, Xt, before=models[1], ax=axs[0])


def test_domains_input_errors(data, models):
    Xs, ys, Xt, _ = data
    with pytest.raises(ValueError, match="y_source has"):
        plot_domains(models[0], Xs, Xt, y_source=ys[:-1])
    with pytest.raises(ValueError, match="method must be"):
        plot_domains(models[0], Xs, Xt, method="umap")


def test_missing_matplotlib_gives_install_hint(monkeypatch, models):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'skdann\[plot\]'"):
        plot_history(models[0])


def test_matplotlib_is_imported_lazily():
    import ast
    import inspect

    import skdann.plot

    tree = ast.parse(inspect.getsource(skdann.plot))
    top_level = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    names = [alias.name for node in top_level for alias in node.names]
    names += [node.module for node in top_level if isinstance(node, ast.ImportFrom)]
    assert not [n for n in names if n and n.startswith("matplotlib")]
