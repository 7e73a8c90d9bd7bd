"""`allrepro models`: every model in params.yaml with its total and trainable parameter counts."""
from __future__ import annotations


def parameter_counts(spec: dict, n_classes: int) -> dict:
    """Total parameters, and trainable ones per phase (built without pretrained weights)."""
    from allrepro.models.build import build_model
    from allrepro.train import set_trainable

    model, backbone = build_model({**spec, "weights": None}, n_classes)
    out = {"total": model.count_params()}
    for i, phase in enumerate(spec["phases"], start=1):
        set_trainable(backbone, phase.get("trainable", "all"))
        out[f"trainable_phase{i}"] = sum(int(w.numpy().size) if hasattr(w, "numpy") else int(w.size)
                                         for w in model.trainable_weights)
    return out


def print_models(cfg: dict) -> None:
    from allrepro.params import model_spec

    n = len(cfg["data"]["classes"])
    print(f"{'model':<18} {'backbone':<16} {'input':>5} {'total':>12}  trainable per phase")
    for name in cfg["models"]:
        spec = model_spec(cfg, name)
        counts = parameter_counts(spec, n)
        phases = " / ".join(f"{v:,}" for k, v in counts.items() if k.startswith("trainable"))
        print(f"{name:<18} {spec['backbone']:<16} {spec['input_size']:>5} {counts['total']:>12,}  {phases}")
