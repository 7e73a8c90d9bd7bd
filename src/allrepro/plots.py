"""The figures several stages draw: a confusion matrix with counts and row percentages, one-vs-rest ROC curves."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from allrepro.fileio import atomic_path


def plot_confusion(cm: np.ndarray, classes: list[str], title: str, path: str | Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pct = 100 * cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    ax.imshow(pct, cmap="Blues", vmin=0, vmax=100)
    for i in range(len(classes)):
        for j in range(len(classes)):
            ax.text(j, i, f"{cm[i, j]}\n{pct[i, j]:.1f}%", ha="center", va="center", fontsize=8,
                    color="white" if pct[i, j] > 60 else "black")
    ax.set(xticks=range(len(classes)), yticks=range(len(classes)), xticklabels=classes, yticklabels=classes,
           xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_roc(y: np.ndarray, proba: np.ndarray, classes: list[str], title: str, path: str | Path) -> None:
    """One-vs-rest ROC curve per class, AUC in the legend (classes absent from y are skipped)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    for i, c in enumerate(classes):
        positive = y == i
        if 0 < positive.sum() < len(y):
            fpr, tpr, _ = roc_curve(positive, proba[:, i])
            ax.plot(fpr, tpr, label=f"{c} (AUC {roc_auc_score(positive, proba[:, i]):.3f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def plot_reliability(curves: dict[str, tuple[np.ndarray, np.ndarray]], bins: int, title: str, path: str | Path) -> None:
    """Reliability diagram: accuracy against mean confidence of the top label, per confidence bin, one line per
    model; the diagonal is perfect calibration (above it: under-confident, below: over-confident)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], ":", color="grey", label="perfectly calibrated")
    for name, (confidence, accuracy) in curves.items():
        ax.plot(confidence, accuracy, "o-", markersize=3, label=name)
    ax.set(xlabel=f"confidence of the predicted class ({bins} equal-width bins)", ylabel="accuracy in the bin",
           xlim=(0, 1), ylim=(0, 1.02), title=title)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)
