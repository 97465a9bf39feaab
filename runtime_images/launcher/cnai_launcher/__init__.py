"""The cnai-launcher image: create a Kubernetes object and wait for its outcome."""

__version__ = "0.1.0"
