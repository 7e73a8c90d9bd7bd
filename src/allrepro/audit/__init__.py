"""The audit: how far each headline number can be trusted (duplicates and leakage, shortcut baselines,
uncertainty, segmentation agreement, data quality). One module per question; `stage` runs them."""
