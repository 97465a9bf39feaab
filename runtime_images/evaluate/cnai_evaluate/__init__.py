"""The cnai-evaluate image: scikit-learn metrics written as typed step outputs."""

__version__ = "0.1.0"
