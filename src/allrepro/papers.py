"""The papers' reported numbers (paper_values.yaml): what each experiment is compared with."""
from __future__ import annotations

from importlib import resources

import yaml


def paper_values() -> dict:
    return yaml.safe_load(resources.files("allrepro").joinpath("paper_values.yaml").read_text())
