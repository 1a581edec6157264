"""synthlab: image synthesis with random and trained neural networks."""

from synthlab.errors import SynthlabError

__version__ = "0.1.0"
__all__ = ["SynthlabError", "__version__"]
