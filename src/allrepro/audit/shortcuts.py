"""Shortcut baselines: classifiers that see only an image's global colour statistics, or (experiments on
segmented images) only how much of the image the HSV mask keeps.

Features per image: mean and standard deviation of each RGB channel, plus (histogram_bins > 0) a
normalised histogram per channel. They carry staining, illumination and background, but nothing of a
cell's shape; if a nearest-neighbour or logistic-regression classifier on them comes close to the CNNs,
the CNNs' number may rest on the same shortcut. Each baseline is trained on the experiment's own
training part (oversampled rows included) and scored on its test part.

The mask baseline: one number per image, the foreground fraction of its HSV mask (the segment stage's
`foreground` column), split into class intervals by a depth-3 decision tree. A network trained on the
segmented images sees that fraction (the black area) too; on the ALL dataset the masks of Pro images are
nearly empty, so part of the class is readable from the mask's size alone.
"""
from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

MASK_BASELINE = "mask foreground fraction"


def colour_features(path: str, histogram_bins: int) -> np.ndarray:
    return rgb_features(cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), histogram_bins)


def rgb_features(rgb: np.ndarray, histogram_bins: int) -> np.ndarray:
    """The colour features of one RGB uint8 image."""
    rgb = rgb.reshape(-1, 3).astype(np.float64)
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


def predictions(model, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, test: pd.DataFrame,
                classes: list[str]) -> pd.DataFrame:
    """Fit, then the test predictions shaped like evaluate's predictions_test.csv (path, true, pred, p_*)."""
    model.fit(x_train, y_train)
    proba = np.zeros((len(test), len(classes)))
    proba[:, model.classes_] = model.predict_proba(x_test)
    frame = pd.DataFrame({"path": test["path"].to_numpy(), "true": test["class"].to_numpy(),
                          "pred": [classes[i] for i in proba.argmax(axis=1)]})
    for i, c in enumerate(classes):
        frame[f"p_{c}"] = np.round(proba[:, i], 6)
    return frame


def labels(part: pd.DataFrame, classes: list[str]) -> np.ndarray:
    return part["class"].map({c: i for i, c in enumerate(classes)}).to_numpy()


def run_baselines(train: pd.DataFrame, test: pd.DataFrame, classes: list[str], histogram_bins: int,
                  neighbors: int, seed: int, fitted: dict | None = None) -> dict[str, pd.DataFrame]:
    """Test predictions per colour baseline; `fitted` (a dict) receives each fitted classifier by name."""
    x_train, x_test = feature_matrix(train["path"], histogram_bins), feature_matrix(test["path"], histogram_bins)
    models = baselines(neighbors, seed)
    if fitted is not None:
        fitted.update(models)
    return {name: predictions(model, x_train, labels(train, classes), x_test, test, classes)
            for name, model in models.items()}


def mask_baseline(train: pd.DataFrame, test: pd.DataFrame, classes: list[str], foreground: dict[str, float],
                  seed: int) -> dict[str, pd.DataFrame]:
    """Test predictions of the classifier that sees only the mask's foreground fraction; `foreground`
    maps a split row's id (the original image) to the fraction."""
    def column(part):
        missing = sorted(set(part["id"]) - set(foreground))
        if missing:
            raise KeyError(f"no foreground fraction for {missing[0]} (and {len(missing) - 1} more): rerun the segment stage")
        return part["id"].map(foreground).to_numpy(dtype=float)[:, None]

    model = DecisionTreeClassifier(max_depth=3, random_state=seed)
    return {MASK_BASELINE: predictions(model, column(train), labels(train, classes), column(test), test, classes)}


def foreground_by_class(train: pd.DataFrame, foreground: dict[str, float]) -> dict[str, float]:
    """Mean foreground fraction of each class's distinct training images."""
    rows = train.drop_duplicates("id")
    return {c: round(float(rows.loc[rows["class"] == c, "id"].map(foreground).mean()), 4)
            for c in sorted(rows["class"].unique())}
