"""Parameter counts for `allrepro models`, built from params (the report's table reads training's: paper_tables)."""
from __future__ import annotations





def parameter_counts(spec: dict, n_classes: int) -> dict:
    """Total parameters, and trainable ones per phase (built without pretrained weights)."""
    from allrepro.models.build import build_model
    from allrepro.models.trainable import count_trainable, set_trainable

    model, backbone = build_model({**spec, "weights": None}, n_classes)
    trainable = []
    for phase in spec["phases"]:
        set_trainable(backbone, phase.get("trainable", "all"))
        trainable.append(count_trainable(model))
    return {"total": model.count_params(), "trainable": trainable}


def print_models(cfg: dict, names: list[str] | None = None) -> None:
    from allrepro.params import model_spec

    n = len(next(iter(cfg["datasets"].values()))["classes"])  # the head's size barely matters here
    print(f"{'model':<28} {'backbone':<16} {'input':>5} {'total':>12}  trainable per phase")
    for name in names or cfg["models"]:
        spec = model_spec(cfg, name)
        counts = parameter_counts(spec, n)
        phases = " / ".join(f"{v:,}" for v in counts["trainable"])
        print(f"{name:<28} {spec['backbone']:<16} {spec['input_size']:>5} {counts['total']:>12,}  {phases}", flush=True)


