"""Levers measured by ``ablation.py`` before (or instead of) becoming parameters.

Each is written with the package's own extension points — a domain loss
passed as ``criterion_domain``, a ``DANNNet`` subclass passed as
``net_class`` — so that the ablation can measure an idea before it earns a
parameter. The relaxed loss and the gradient penalty did not (README, ablation
round 9), nor sharpness-aware training (round 11); virtual adversarial
training did (round 13 measured the subclass here, round 14 the package's
``vat_weight``); minimum class confusion did not (round 16).
``python benchmarks/_levers.py`` shows where the relaxed loss's domain head
ends up.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from skdann import DANNNet


class RelaxedDomainLoss(nn.Module):
    """β-relaxed Jensen-Shannon domain loss (Wu, Winston, Kaushik & Lipton, ICML 2019).

    Per row, for the domain head's logit ``ℓ`` (positive: target): source rows
    ``softplus(ℓ) = -log(1 - σ(ℓ))`` as in DANN, target rows
    ``log(1 + β) - log(1 + β + σ(ℓ))``. The extractor, through the gradient
    reversal layer, then only needs the target's feature density to stay below
    ``1 + β`` times the source's, instead of equal to it: a target whose
    classes are in other proportions than the source's need not be distorted.

    Parameters
    ----------
    beta : float, default=1.0
        The relaxation ``β >= 0``.
    reduction : str, default="none"
        Per-row losses (the net weighs and sums them).
    """

    def __init__(self, beta: float = 1.0, reduction: str = "none") -> None:
        super().__init__()
        self.beta = float(beta)
        self.reduction = reduction

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        source = nn.functional.softplus(logits)
        target = math.log1p(self.beta) - torch.log1p(self.beta + torch.sigmoid(logits))
        return torch.where(targets > 0.5, target, source)


class GradientPenaltyNet(DANNNet):
    """DANN with a zero-centred gradient penalty on the domain head (R1-style, Mescheder et al. 2018).

    After the DANN step's backward pass, adds ``weight × mean ||∇_h D(h)||²``
    over the batch's rows, ``h`` the (detached) features: a smoother domain
    head, which GAN practice uses to damp the oscillation of adversarial games.
    The features are recomputed for the penalty, so its cost here is not what a
    built-in version would cost.
    """

    gradient_penalty = 1.0

    def train_step_single(self, batch, **fit_params):
        step = super().train_step_single(batch, **fit_params)
        if self.layout_.has_target:
            with torch.no_grad():
                features = self.module_.features(batch[0])
            h = features.detach().requires_grad_(True)
            logits = self.module_.domain_head(h)
            (grad,) = torch.autograd.grad(logits.sum(), h, create_graph=True)
            (self.gradient_penalty * grad.pow(2).sum(dim=1).mean()).backward()
        return step


class GradientPenalty01Net(GradientPenaltyNet):
    """:class:`GradientPenaltyNet` with weight 0.1."""

    gradient_penalty = 0.1



class SharpnessAwareNet(DANNNet):
    """DANN with sharpness-aware minimisation of the label loss (SDAT; Rangwani et al., ICML 2022).

    Each step first moves the extractor and the label head by ``rho`` along the
    normalised gradient of the label loss (the steepest ascent within a ball of
    radius ``rho``), computes DANN's losses and gradients there, restores the
    weights and lets the optimizer step with those gradients (SAM, Foret et al.
    2021). The perturbation follows the label loss alone, as SDAT does: smoothing
    the adversarial loss too made adaptation worse in their study. The domain head
    is not perturbed. Costs one extra forward/backward of the labelled rows.
    """

    #: SAM's neighbourhood radius (SDAT: 0.02 to 0.05).
    rho = 0.05
    #: SAM changes source-only training too (``ablation.py`` gives it its own source-only run).
    changes_source_only = True

    def _sam_parameters(self) -> list:
        module = self.module_
        return [p for part in (module.extractor, module.label_head)
                for p in part.parameters() if p.requires_grad]

    def train_step_single(self, batch, **fit_params):
        X, y, sample_weight = batch
        n_lab = self.layout_.n_labelled
        params = self._sam_parameters()
        outputs = self.module_.label_head(self.module_.features(X[:n_lab]))
        grads = torch.autograd.grad(self.get_label_loss(outputs, y, sample_weight), params,
                                    allow_unused=True)
        pairs = [(p, g) for p, g in zip(params, grads) if g is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for _, g in pairs]))
        scale = float(self.rho) / (float(norm) + 1e-12)
        with torch.no_grad():
            for p, g in pairs:
                p.add_(g, alpha=scale)
        try:
            return super().train_step_single(batch, **fit_params)
        finally:
            with torch.no_grad():
                for p, g in pairs:
                    p.sub_(g, alpha=scale)


class SharpnessAware002Net(SharpnessAwareNet):
    """:class:`SharpnessAwareNet` with ``rho=0.02``."""

    rho = 0.02


class VirtualAdversarialNet(DANNNet):
    """DANN with virtual adversarial training on both domains (VADA; Shu et al., ICLR 2018).

    Adds ``vat_weight × KL(p(x) || p(x + r))`` over the batch's rows, ``r`` the
    perturbation of radius ``vat_radius × ||x||`` (per row) that changes the
    prediction most, found by one power iteration (Miyato et al. 2018): the
    cluster assumption, that the decision boundary should not cross dense regions
    of either domain. Source rows always; target rows with the λ ramp (as
    ``target_entropy``), so a source-only run (``lambda_max=0``) is regularised
    on the source rows alone. Two extra forward/backward passes per step.

    Kept as round 13 measured it: the package's ``vat_weight``/``vat_radius``
    (round 14) is the same method with a probe step of a hundredth of the
    radius instead of 10⁻⁶, the perturbation made after ``standardize``, and
    the term added to the step's loss before its one backward pass.
    """

    #: Weight of the VAT loss.
    vat_weight = 1.0
    #: Perturbation radius relative to each row's norm.
    vat_radius = 0.1
    changes_source_only = True

    def _vat_loss(self, X: torch.Tensor) -> torch.Tensor:
        module = self.module_

        def log_p(x):
            return torch.log_softmax(module.label_head(module.features(x)).float(), dim=1)

        def unit(v):
            flat = v.reshape(len(v), -1)
            return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)).reshape(v.shape)

        with torch.no_grad():
            target = log_p(X).exp()
        radius = self.vat_radius * X.reshape(len(X), -1).norm(dim=1).clamp_min(1e-6)
        radius = radius.reshape(-1, *([1] * (X.dim() - 1)))
        d = (1e-6 * unit(torch.randn_like(X))).requires_grad_(True)
        kl = nn.functional.kl_div(log_p(X + d), target, reduction="none").sum(dim=1)
        (grad,) = torch.autograd.grad(kl.sum(), d)
        r = (radius * unit(grad)).detach()
        return nn.functional.kl_div(log_p(X + r), target, reduction="none").sum(dim=1)

    def train_step_single(self, batch, **fit_params):
        step = super().train_step_single(batch, **fit_params)
        X = batch[0]
        per_row = self._vat_loss(X)
        layout = self.layout_
        loss = per_row[:layout.n_labelled].mean()
        target_weight = self._vat_target_weight()
        if layout.has_target and target_weight > 0:
            loss = loss + target_weight * per_row[layout.n_labelled:].mean()
        self._backward(self.vat_weight * loss)
        return step

    def _vat_target_weight(self) -> float:
        lambda_max = float(self.lambda_max)
        return 0.0 if lambda_max <= 0 else self.lambda_ / lambda_max


class VirtualAdversarial03Net(VirtualAdversarialNet):
    """:class:`VirtualAdversarialNet` with radius 0.3 of each row's norm."""

    vat_radius = 0.3

class MinimumClassConfusionNet(DANNNet):
    """DANN with minimum class confusion on the target rows (MCC; Jin et al., ECCV 2020).

    Replaces the entropy of ``target_entropy`` (same weight, same λ ramp) by the
    class confusion of the batch's target predictions: with ``P`` the rows'
    class probabilities at temperature ``T``, each row weighted by
    ``1 + exp(-entropy)`` (confident rows count more), ``C = Pᵀ W P``
    normalised by rows, the loss is the mass of ``C`` off its diagonal over the
    number of classes. Unlike the entropy it does not reward committing every
    row to the majority class: a class confused with another costs, one
    predicted for few rows does not.
    """

    #: Softmax temperature of the predictions (the paper's 2.5).
    temperature = 2.5

    def get_entropy_loss(self, outputs: torch.Tensor) -> torch.Tensor:
        if len(outputs) == 0:
            return outputs.sum()
        p = torch.softmax(outputs.float() / self.temperature, dim=1)
        entropy = -(p * torch.log(p.clamp_min(1e-12))).sum(dim=1).detach()
        w = 1.0 + torch.exp(-entropy)
        w = len(p) * w / w.sum()
        confusion = (p * w[:, None]).T @ p
        confusion = confusion / confusion.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return (confusion.sum() - confusion.trace()) / p.shape[1]


def main() -> None:
    """What the relaxed loss's domain head ends up saying, against DANN's, on moons at 35°."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skdann import DANNClassifier
    from suite import _stacked, load_task

    d = load_task("moons-35")
    X, y = _stacked(d["Xs"], d["ys"], d["Xt"])
    relaxed = {"criterion_domain": RelaxedDomainLoss, "criterion_domain__beta": 1.0}
    for name, params in (("DANN (defaults)", {}), ("relaxed, beta=1", relaxed),
                         ("relaxed, beta=1, lambda_max=3", {**relaxed, "lambda_max": 3.0})):
        model = make_pipeline(StandardScaler(), DANNClassifier(random_state=0, n_threads=1, **params))
        model.fit(X, y)
        p = model[-1].predict_domain_proba(model[0].transform(X))
        print(f"{name}: target accuracy {model.score(d['Xtest'], d['ytest']):.3f}; the domain head's "
              f"mean P(target) on source rows {p[y != -1].mean():.3f}, on target rows "
              f"{p[y == -1].mean():.3f}; last epoch's domain accuracy "
              f"{model[-1].history_[-1, 'domain_acc']:.3f}")


if __name__ == "__main__":
    main()
