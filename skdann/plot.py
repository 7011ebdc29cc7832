"""Pictures of a DANN fit: the training curves and the two domains in feature space.

matplotlib is an optional extra (``pip install 'skdann[plot]'``); it is
imported when a function is called, not when this module is.
"""

from __future__ import annotations

import numpy as np

from ._pipeline import final_step, one_network, take_rows, to_final_input

__all__ = ["plot_history", "plot_domains"]

_SOURCE_COLOUR = "tab:blue"
_TARGET_COLOUR = "tab:orange"
_MARKERS = ("o", "^", "s", "D", "v", "P", "*", "<", ">", "p", "h", "d")
_UNLABELLED = "x"  # never a class marker: unlabelled rows must not read as class 0


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "skdann.plot needs matplotlib, an optional extra: pip install 'skdann[plot]'"
        ) from exc
    return plt


def _history(model):
    if hasattr(model, "new_epoch") and hasattr(model, "record"):  # a skorch History
        return model
    final = final_step(model)
    if hasattr(type(final), "history_") or "history_" in getattr(final, "__dict__", {}):
        return final.history_  # raises NotFittedError on an unfitted DANNClassifier
    if hasattr(final, "history"):  # a DANNNet
        return final.history
    raise TypeError(f"plot_history needs a fitted DANNClassifier (or a Pipeline ending in one), "
                    f"a DANNNet or a skorch History; got {type(model).__name__}.")


def _column(history, key):
    values = []
    for row in history:
        value = row.get(key, np.nan)
        values.append(np.nan if value is None else value)
    return np.asarray(values, dtype=float)


def plot_history(model, axes=None):
    """Plot the training curves of a DANN fit, one panel per quantity.

    Four panels against the epoch: the losses (label, domain and their sum,
    ``train_loss``); the accuracy of the domain classifier, with a dashed
    line at 0.5 (chance), which it drifts towards as the features of the two
    domains align; the adversarial weight λ; and the learning rate (log
    scale). Each point is an epoch mean (λ and lr: the value at the epoch's
    last step).

    Parameters
    ----------
    model : DANNClassifier, Pipeline ending in one, DANNNet or skorch History
        A fitted model (its ``history_``) or a history.
    axes : sequence of 4 matplotlib Axes, optional
        Where to draw (losses, domain accuracy, λ, lr), e.g. ``axs.ravel()``
        of ``plt.subplots(2, 2)``. ``None``: a new 2×2 figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure of the (first) axes.

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_domains : The features of both domains, projected to 2-D.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, _ = make_domain_moons(random_state=0)
    >>> clf = DANNClassifier(max_epochs=3, random_state=0).fit(Xs, ys, Xt)
    >>> fig = plot_history(clf)
    >>> [ax.get_title() for ax in fig.axes]
    ['losses', 'domain classifier accuracy', 'adversarial weight λ', 'learning rate']
    >>> plt.close(fig)
    """
    plt = _pyplot()
    history = _history(model)
    if len(history) == 0:
        raise ValueError("plot_history: the history is empty (the model has not been trained).")
    if axes is None:
        fig, axs = plt.subplots(2, 2, figsize=(10, 6.5), sharex=True, layout="constrained")
        axes = axs.ravel()
    else:
        axes = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(axes) != 4:
            raise ValueError(f"plot_history draws 4 panels; axes has {len(axes)}.")
        fig = axes[0].figure
    epochs = _column(history, "epoch")
    if np.isnan(epochs).any():
        epochs = np.arange(1, len(history) + 1, dtype=float)
    ax_loss, ax_acc, ax_lambda, ax_lr = axes

    ax_loss.plot(epochs, _column(history, "label_loss"), label="label loss")
    ax_loss.plot(epochs, _column(history, "domain_loss"), label="domain loss")
    ax_loss.plot(epochs, _column(history, "train_loss"), label="total (train_loss)", color="0.3")
    ax_loss.set_title("losses")
    ax_loss.set_ylabel("loss")
    ax_loss.legend()

    ax_acc.plot(epochs, _column(history, "domain_acc"), color="tab:green", label="domain accuracy")
    ax_acc.axhline(0.5, color="0.4", linestyle="--", linewidth=1, label="chance (0.5)")
    ax_acc.set_ylim(-0.02, 1.02)
    ax_acc.set_title("domain classifier accuracy")
    ax_acc.set_ylabel("accuracy")
    ax_acc.legend()

    ax_lambda.plot(epochs, _column(history, "lambda"), color="tab:purple", label="λ")
    ax_lambda.set_title("adversarial weight λ")
    ax_lambda.set_ylabel("λ")

    lr = _column(history, "lr")
    ax_lr.plot(epochs, lr, color="tab:red", label="lr")
    if np.all(lr[np.isfinite(lr)] > 0) and np.isfinite(lr).any():
        ax_lr.set_yscale("log")
    ax_lr.set_title("learning rate")
    ax_lr.set_ylabel("lr")

    for ax in axes:
        ax.grid(True, alpha=0.3)
    for ax in (ax_lambda, ax_lr):
        ax.set_xlabel("epoch")
    return fig


def _features(model, X) -> np.ndarray:
    """``model.transform(X)``; for a Pipeline, its first steps then the final DANNClassifier."""
    one_network(model, "plot_domains")
    final, X = to_final_input(model, X)
    Z = np.asarray(final.transform(X), dtype=float)
    return Z.reshape(len(Z), -1)


def _projector(method, random_state, n_samples):
    if not isinstance(method, str):
        if not hasattr(method, "fit_transform"):
            raise TypeError(f"method must be 'pca', 'tsne' or an estimator with fit_transform; "
                            f"got {method!r}.")
        from sklearn.base import clone
        return clone(method), "dim"
    name = method.lower()
    if name == "pca":
        from sklearn.decomposition import PCA
        return PCA(n_components=2, random_state=random_state), "PC"
    if name in ("tsne", "t-sne"):
        from sklearn.manifold import TSNE
        perplexity = float(min(30.0, max(1.0, (n_samples - 1) / 3)))
        return TSNE(n_components=2, init="pca", perplexity=perplexity,
                    random_state=random_state), "t-SNE"
    raise ValueError(f"method must be 'pca', 'tsne' or an estimator with fit_transform; "
                     f"got {method!r}.")


def _project(Z, method, random_state):
    projector, axis_name = _projector(method, random_state, len(Z))
    if Z.shape[1] == 1:  # nothing to project: the feature against zero
        return np.column_stack([Z[:, 0], np.zeros(len(Z))]), ("feature", "0")
    P = np.asarray(projector.fit_transform(Z), dtype=float)
    return P[:, :2], (f"{axis_name} 1", f"{axis_name} 2")


def _check_labels(y, X, name):
    if y is None:
        return None
    y = np.asarray(y).reshape(-1)
    if len(y) != len(X):
        raise ValueError(f"{name} has {len(y)} labels for {len(X)} rows.")
    return y


def _model_title(model, default):
    final = final_step(model)
    lambda_max = getattr(final, "lambda_max_", getattr(final, "lambda_max", None))
    if lambda_max is None or isinstance(lambda_max, str):
        return default
    chosen = " chosen" if getattr(final, "lambda_max", None) == "auto" else ""
    if lambda_max == 0:
        return f"source only (λ_max = 0{chosen})"
    return f"DANN (λ_max = {lambda_max:g}{chosen})"


def _draw_domains(ax, P_source, P_target, y_source, y_target, classes, labels, title):
    from matplotlib.lines import Line2D

    marker_of = {c: _MARKERS[i % len(_MARKERS)] for i, c in enumerate(classes)}
    unlabelled_drawn = False
    for P, y, colour in ((P_source, y_source, _SOURCE_COLOUR), (P_target, y_target, _TARGET_COLOUR)):
        if len(P) == 0:
            continue
        known = np.zeros(len(P), dtype=bool) if y is None else np.isin(y, classes)
        for c in classes:
            mask = known & (y == c)
            if mask.any():
                ax.scatter(P[mask, 0], P[mask, 1], s=14, c=colour, marker=marker_of[c],
                           alpha=0.6, linewidths=0)
        if (~known).any():
            # Without any class to show, every row is a plain dot; next to
            # classes, unlabelled rows are crosses so they never read as one.
            marker = _UNLABELLED if classes else "o"
            ax.scatter(P[~known, 0], P[~known, 1], s=12, c=colour, marker=marker, alpha=0.6,
                       linewidths=0.8 if classes else 0)
            unlabelled_drawn = unlabelled_drawn or bool(classes)
    handles = [Line2D([], [], color=_SOURCE_COLOUR, marker="s", linestyle="", label="source"),
               Line2D([], [], color=_TARGET_COLOUR, marker="s", linestyle="", label="target")]
    handles += [Line2D([], [], color="0.35", marker=marker_of[c], linestyle="", label=f"class {c}")
                for c in classes]
    if unlabelled_drawn:
        handles.append(Line2D([], [], color="0.35", marker=_UNLABELLED, linestyle="",
                              label="unlabelled"))
    ax.legend(handles=handles, loc="best", fontsize="small", framealpha=0.8)
    ax.set_title(title)
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])


def _split_domains(model, X, X_target, y, y_target, sample_domain):
    """The per-row form of plot_domains: split X (and y) by sample_domain."""
    if X_target is not None or y_target is not None:
        raise ValueError("With sample_domain, pass all rows as X (and their labels as y_source); "
                         "X_target and y_target are not used.")
    sd = np.asarray(sample_domain).reshape(-1)
    if len(sd) != len(X):
        raise ValueError(f"sample_domain has {len(sd)} values for {len(X)} rows.")
    target = sd < 0
    y = _check_labels(y, X, "y_source")
    if y is not None:
        final = final_step(model)
        if hasattr(final, "_labelled_mask"):
            unlabelled = ~final._labelled_mask(y)
            y = np.where(unlabelled, None, y.astype(object))
    return (take_rows(X, ~target), take_rows(X, target),
            None if y is None else y[~target], None if y is None else y[target])


def plot_domains(model, X_source, X_target=None, y_source=None, y_target=None, before=None,
                 method="pca", random_state=0, ax=None, *, sample_domain=None, max_points=None):
    """Scatter both domains in the model's feature space, projected to 2-D.

    The rows are passed through the feature extractor (``model.transform``;
    for a Pipeline its first steps, then the final DANNClassifier), source
    and target features are stacked and projected to two dimensions together
    (PCA, or t-SNE on request). Colour shows the domain (source blue, target
    orange); where labels are given, the marker shows the class, and
    unlabelled rows are crosses. Aligned domains overlap while the classes
    stay apart.

    The domains can also be given per row: ``plot_domains(model, X,
    y_source=y, sample_domain=sample_domain)`` takes rows with a negative
    ``sample_domain`` as target rows, and ``y`` (optional, one label per row
    of ``X``) for the markers, with the model's unlabelled marker on
    unlabelled rows.

    With ``before`` (typically the same network trained on the source alone,
    ``lambda_max=0``) the two models are drawn side by side, before on the
    left, each with its own projection.

    Parameters
    ----------
    model : DANNClassifier or Pipeline ending in one
        Fitted model.
    X_source, X_target : array-like
        Rows (or images) of each domain, as the model takes them. With
        ``sample_domain``, ``X_source`` holds the rows of all domains and
        ``X_target`` is not given.
    y_source, y_target : array-like of shape (n_source,) / (n_target,), optional
        Class labels, for the markers (target labels only for evaluation).
        With ``sample_domain``, ``y_source`` labels every row of ``X_source``.
    before : DANNClassifier or Pipeline ending in one, optional
        A second fitted model to draw on the left, e.g. a source-only one.
    method : {"pca", "tsne"} or estimator, default="pca"
        Projection: :class:`sklearn.decomposition.PCA`,
        :class:`sklearn.manifold.TSNE` (slower), or any estimator with
        ``fit_transform`` giving 2 columns (cloned per panel).
    random_state : int, default=0
        Seed of the projection (and of the subsample of ``max_points``).
    ax : matplotlib Axes, or a sequence of 2 Axes with ``before``, optional
        Where to draw; ``None``: a new figure.
    sample_domain : array-like of int, optional
        Each row's domain (positive: source, negative: target).
    max_points : int, optional
        Draw at most this many rows of each domain (a random subset); useful
        with ``method="tsne"`` on large sets. ``None``: all rows.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn into.

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_history : The training curves.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from skdann import DANNClassifier
    >>> from skdann.datasets import make_domain_moons
    >>> Xs, ys, Xt, yt = make_domain_moons(random_state=0)
    >>> dann = DANNClassifier(max_epochs=3, random_state=0).fit(Xs, ys, Xt)
    >>> src = DANNClassifier(max_epochs=3, lambda_max=0, random_state=0).fit(Xs, ys, Xt)
    >>> fig = plot_domains(dann, Xs, Xt, y_source=ys, before=src)
    >>> [ax.get_title() for ax in fig.axes]
    ['source only (λ_max = 0)', 'DANN (λ_max = 0.3)']
    >>> [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    ['source', 'target', 'class 0', 'class 1', 'unlabelled']
    >>> plt.close(fig)
    """
    plt = _pyplot()
    if sample_domain is not None:
        X_source, X_target, y_source, y_target = _split_domains(
            model, X_source, X_target, y_source, y_target, sample_domain)
    elif X_target is None:
        raise ValueError("plot_domains needs X_target, or sample_domain to find the target rows.")
    n_source, n_target = len(X_source), len(X_target)
    y_source = _check_labels(y_source, X_source, "y_source")
    y_target = _check_labels(y_target, X_target, "y_target")
    if max_points is not None:
        rng = np.random.RandomState(random_state)
        if n_source > max_points:
            keep = np.sort(rng.choice(n_source, max_points, replace=False))
            X_source = take_rows(X_source, keep)
            y_source = None if y_source is None else y_source[keep]
        if n_target > max_points:
            keep = np.sort(rng.choice(n_target, max_points, replace=False))
            X_target = take_rows(X_target, keep)
            y_target = None if y_target is None else y_target[keep]
        n_source, n_target = len(X_source), len(X_target)
    labelled = [y[np.array([v is not None for v in y], dtype=bool)] for y in (y_source, y_target)
                if y is not None]
    classes = list(np.unique(np.concatenate(labelled))) if labelled else []

    models = [model] if before is None else [before, model]
    if ax is None:
        fig, axs = plt.subplots(1, len(models), figsize=(5.5 * len(models), 5),
                                layout="constrained", squeeze=False)
        axs = list(axs.ravel())
    else:
        axs = list(np.ravel(np.asarray(ax, dtype=object)))
        if len(axs) != len(models):
            raise ValueError(f"plot_domains draws {len(models)} panel(s) here; ax has {len(axs)}.")
        fig = axs[0].figure
    defaults = ["after"] if before is None else ["before", "after"]
    for m, a, default in zip(models, axs, defaults):
        Zs, Zt = _features(m, X_source), _features(m, X_target)
        P, labels = _project(np.vstack([Zs, Zt]), method, random_state)
        _draw_domains(a, P[:n_source], P[n_source:], y_source, y_target, classes, labels,
                      _model_title(m, default))
    return fig
