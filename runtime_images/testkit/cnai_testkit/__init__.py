"""Test-only helpers for runtime_images: local stand-ins for S3, HTTP and the Kubernetes API."""
