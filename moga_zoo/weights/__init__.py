"""Pretrained weights: the manifest, verified hub downloads, local weights, conversion, publishing."""
from .errors import ChecksumError, WeightsDownloadError, WeightsError, WeightsNotPublishedError
from .hub import fetch_entry
from .loading import load_pretrained, load_state_dict_into, read_safetensors, resolve_weights
from .local import install_folder, installed_weights, weights_dir
from .manifest import Manifest, ManifestError, WeightsEntry, load_manifest, manifest_path

__all__ = [
    "ChecksumError", "Manifest", "ManifestError", "WeightsDownloadError", "WeightsEntry", "WeightsError",
    "WeightsNotPublishedError", "fetch_entry", "install_folder", "installed_weights", "load_manifest",
    "load_pretrained", "load_state_dict_into", "manifest_path", "read_safetensors", "resolve_weights",
    "weights_dir",
]
