"""Pages for people, built on the control plane: the checkout page behind ``h5_url``."""
