"""tflearn's `tflearn.models` import paths: `from stackit.models import DNN, SequenceGenerator`,
`from stackit.models.dnn import DNN`, `from stackit.models.generator import SequenceGenerator`.

The classes live in `stackit.model` and `stackit.generator`; these modules only re-export them.
"""

from stackit.generator import SequenceGenerator
from stackit.model import DNN

__all__ = ["DNN", "SequenceGenerator"]
