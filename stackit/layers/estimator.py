"""tflearn's home of `regression`: the estimator lives in `stackit.estimator`."""

from stackit.estimator import Regression, regression

__all__ = ["Regression", "regression"]
