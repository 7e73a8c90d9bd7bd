"""allrepro: reproduce and audit deep-learning results on blood-smear leukemia images."""

__version__ = "0.1.0"
