"""The papers' reported numbers (paper_values.yaml): what each experiment is compared with."""
from __future__ import annotations

from importlib import resources

from allrepro.params import read_yaml


def paper_values() -> dict:
    return read_yaml(resources.files("allrepro").joinpath("paper_values.yaml").read_text())
