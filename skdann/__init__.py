"""skdann: domain-adversarial neural networks (DANN) as scikit-learn estimators."""

from ._adversary import Adversary, CDANAdversary, DANNAdversary
from ._base import BaseDANN
from ._classifier import DANNClassifier
from ._device import resolve_device
from ._ensemble import DANNEnsembleClassifier, DANNEnsembleRegressor
from ._grl import GradientReversal, GradientReversalFunction, grad_reverse
from ._modules import CNNExtractor, DANNModule, DomainHead, LabelHead, MLPExtractor, Standardize
from ._net import DANNCheckpoint, DANNLoadInitState, DANNNet, DANNProgressBar
from ._regressor import DANNRegressor
from ._schedules import ganin_lambda, ganin_lr_factor
from .exceptions import NoTargetDataWarning, TrainingDivergedError

__version__ = "0.2.0.dev0"

__all__ = [
    "BaseDANN",
    "DANNClassifier",
    "DANNRegressor",
    "DANNEnsembleClassifier",
    "DANNEnsembleRegressor",
    "DANNNet",
    "DANNProgressBar",
    "DANNCheckpoint",
    "DANNLoadInitState",
    "DANNModule",
    "MLPExtractor",
    "CNNExtractor",
    "LabelHead",
    "DomainHead",
    "Standardize",
    "Adversary",
    "DANNAdversary",
    "CDANAdversary",
    "GradientReversal",
    "GradientReversalFunction",
    "grad_reverse",
    "ganin_lambda",
    "ganin_lr_factor",
    "resolve_device",
    "NoTargetDataWarning",
    "TrainingDivergedError",
    "__version__",
]
