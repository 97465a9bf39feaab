"""The cnai-train base image: PyTorch + CUDA runtime, cnai_runtime, and a reporting exec."""

__version__ = "0.1.0"
