"""Model definitions: the backbone registry, classification heads and the hand-built networks."""
