"""skdann: domain-adversarial neural networks (DANN) as a scikit-learn estimator."""

from ._classifier import DANNClassifier
from ._device import resolve_device
from ._grl import GradientReversal, GradientReversalFunction, grad_reverse
from ._net import DANNNet, DANNProgressBar
from ._network import CNNExtractor, DANNModule, DomainHead, LabelHead, MLPExtractor
from ._schedules import ganin_lambda, ganin_lr_factor
from .exceptions import NoTargetDataWarning, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "DANNClassifier",
    "DANNNet",
    "DANNProgressBar",
    "DANNModule",
    "MLPExtractor",
    "CNNExtractor",
    "LabelHead",
    "DomainHead",
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
