"""tflearn's `tflearn.models.generator` import path:
`from stackit.models.generator import SequenceGenerator`."""

from stackit.generator import SequenceGenerator, reverse_dictionary

__all__ = ["SequenceGenerator", "reverse_dictionary"]
