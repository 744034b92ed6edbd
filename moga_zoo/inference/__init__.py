"""Using MoGA models: classify images, export to ONNX/TorchScript, pick the fastest runtime."""
from .export import FORMATS, ExportCheck, ExportError, export_model, validate_export
from .images import ImageLoadError, find_images, load_image, to_rgb
from .labels import class_names
from .loading import load_model
from .predict import Classifier, Label, Prediction, predict
from .cache import cache_dir, onnx_cache_path
from .runtimes import RUNTIMES, available_runtimes, make_runner, resolve_runtime

__all__ = [
    "FORMATS", "RUNTIMES", "Classifier", "ExportCheck", "ExportError", "ImageLoadError", "Label",
    "Prediction", "available_runtimes", "cache_dir", "class_names", "export_model", "find_images",
    "load_image", "load_model", "make_runner", "onnx_cache_path", "predict", "resolve_runtime",
    "to_rgb", "validate_export",
]
