"""Dataset adapters: turn a raw download's layout into a manifest of (path, class, sha256, width, height)."""
from allrepro.datasets.folders import DatasetError, check_layout, build_manifest  # noqa: F401
