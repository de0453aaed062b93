"""tflearn's `tflearn.models.dnn` import path: `from stackit.models.dnn import DNN`."""

from stackit.model import DNN

__all__ = ["DNN"]
