"""Dataset adapters: turn a raw download's layout into a manifest of (path, class, group, sha256, width, height)."""
from allrepro.datasets.folders import ADAPTERS, DatasetError, build_manifest, check_layout, select  # noqa: F401
