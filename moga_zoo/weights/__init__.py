"""Pretrained weights: the manifest, verified hub downloads, local weights, conversion, publishing."""
from .errors import ChecksumError, WeightsDownloadError, WeightsError, WeightsNotPublishedError
from .hub import fetch_entry
from .loading import check_state_dict, resolve_weights, tensor_shapes, timm_pretrained_kwargs
from .local import install_folder, installed_weights, weights_dir
from .manifest import Manifest, ManifestError, WeightsEntry, load_manifest, manifest_path

__all__ = [
    "ChecksumError", "Manifest", "ManifestError", "WeightsDownloadError", "WeightsEntry", "WeightsError",
    "WeightsNotPublishedError", "check_state_dict", "fetch_entry", "install_folder", "installed_weights",
    "load_manifest", "manifest_path", "resolve_weights", "tensor_shapes", "timm_pretrained_kwargs",
    "weights_dir",
]
