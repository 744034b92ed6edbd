"""MoGA-A/B/C (arXiv 1908.01314) as timm models, and the MoGA search space they come from."""
from .builder import build_moga
from .factory import create, list_models, resolve_architecture
from .search_space import MOGA_A, MOGA_B, MOGA_C, Architecture, ArchitectureError, Choice

__version__ = "0.1.0"

__all__ = [
    "Architecture", "ArchitectureError", "Choice", "MOGA_A", "MOGA_B", "MOGA_C",
    "build_moga", "create", "list_models", "resolve_architecture", "__version__",
]
