"""The cnai-deploy image: roll out a model service, then shift canary traffic."""

__version__ = "0.1.0"
