"""Shortcut baselines: classifiers that see only an image's global colour statistics.

Features per image: mean and standard deviation of each RGB channel, plus (histogram_bins > 0) a
normalised histogram per channel. They carry staining, illumination and background, but nothing of a
cell's shape; if a nearest-neighbour or logistic-regression classifier on them comes close to the CNNs,
the CNNs' number may rest on the same shortcut. Each baseline is trained on the experiment's own
training part (oversampled rows included) and scored on its test part.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def colour_features(path: str, histogram_bins: int) -> np.ndarray:
    rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).reshape(-1, 3).astype(np.float64)
    features = [rgb.mean(axis=0) / 255, rgb.std(axis=0) / 255]
    if histogram_bins:
        for c in range(3):
            hist, _ = np.histogram(rgb[:, c], bins=histogram_bins, range=(0, 256))
            features.append(hist / len(rgb))
    return np.concatenate(features)


def feature_matrix(paths: pd.Series, histogram_bins: int) -> np.ndarray:
    """Features of each distinct path once (oversampled training parts repeat rows)."""
    unique = {p: colour_features(p, histogram_bins) for p in dict.fromkeys(paths)}
    return np.stack([unique[p] for p in paths]) if len(paths) else np.zeros((0, 6 + 3 * histogram_bins))


def baselines(neighbors: int, seed: int) -> dict:
    return {
        f"colour {neighbors}-NN": make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=neighbors)),
        "colour logistic regression": make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000,
                                                                                          random_state=seed)),
    }


def run_baselines(train: pd.DataFrame, test: pd.DataFrame, classes: list[str], histogram_bins: int,
                  neighbors: int, seed: int) -> dict[str, pd.DataFrame]:
    """Test predictions per baseline, shaped like evaluate's predictions_test.csv (path, true, pred, p_*)."""
    x_train, x_test = feature_matrix(train["path"], histogram_bins), feature_matrix(test["path"], histogram_bins)
    y_train = train["class"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    out = {}
    for name, model in baselines(neighbors, seed).items():
        model.fit(x_train, y_train)
        proba = np.zeros((len(test), len(classes)))
        proba[:, model.classes_] = model.predict_proba(x_test)
        frame = pd.DataFrame({"path": test["path"].to_numpy(), "true": test["class"].to_numpy(),
                              "pred": [classes[i] for i in proba.argmax(axis=1)]})
        for i, c in enumerate(classes):
            frame[f"p_{c}"] = np.round(proba[:, i], 6)
        out[name] = frame
    return out
