"""twoshot: a self-hosted Couple & Person Image API."""

__version__ = "0.1.0"
