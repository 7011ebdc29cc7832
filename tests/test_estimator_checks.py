"""scikit-learn's estimator checks on DANNClassifier."""

import warnings

import pytest
from sklearn.utils.estimator_checks import check_classifiers_classes, parametrize_with_checks

from skdann import DANNClassifier, NoTargetDataWarning

# sklearn's checks fit on plain labelled data, where DANN warns that there is
# no target domain to adapt to (NoTargetDataWarning); that warning is expected.
pytestmark = pytest.mark.filterwarnings("ignore::skdann.exceptions.NoTargetDataWarning")

EXPECTED_FAILURES = {
    # The check trains on binary labels {-1, 1}. -1 is the unlabelled-target
    # marker (scikit-learn's own semi-supervised convention), so those rows
    # become target rows and one class is left. The same check passes with
    # unlabeled_marker=None: see test_classes_check_passes_without_a_marker.
    "check_classifiers_classes": "-1 is the unlabelled-target marker by default",
}


@parametrize_with_checks(
    [DANNClassifier(max_epochs=20, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_classes_check_passes_without_a_marker():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoTargetDataWarning)
        check_classifiers_classes("DANNClassifier",
                                  DANNClassifier(max_epochs=20, random_state=0, unlabeled_marker=None))
