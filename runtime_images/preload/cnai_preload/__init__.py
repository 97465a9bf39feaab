"""The cnai-preload image: copy a data set into the shared cache volume, once."""

__version__ = "0.1.0"
