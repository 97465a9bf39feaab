"""Options and the context that passes and backends share."""

from __future__ import annotations

from dataclasses import dataclass, field

from cnai.diagnostics import DiagnosticBag
from cnai.source import SourceFile, Span

DEFAULT_REGISTRY = "ghcr.io/cnai-dev"
# The label that NVIDIA's GPU feature discovery puts on nodes, e.g. "NVIDIA-A100-SXM4-80GB".
DEFAULT_GPU_LABEL = "nvidia.com/gpu.product"
# GKE's spot node label and taint; EKS uses eks.amazonaws.com/capacityType=SPOT and AKS
# kubernetes.azure.com/scalesetpriority=spot (docs/cloud-native.md).
DEFAULT_SPOT_LABEL = "cloud.google.com/gke-spot=true"


def _version() -> str:
    from cnai import __version__

    return __version__


@dataclass(frozen=True)
class Options:
    image_registry: str = DEFAULT_REGISTRY
    image_tag: str = field(default_factory=_version)
    gpu_label_key: str = DEFAULT_GPU_LABEL
    spot_label_text: str = DEFAULT_SPOT_LABEL  # KEY=VALUE: node label, and taint tolerated
    optimize: bool = True
    passes: tuple[str, ...] | None = None  # None: every pass of passes.PIPELINE, in order

    @property
    def spot_label(self) -> tuple[str, str]:
        key, _, value = self.spot_label_text.partition("=")
        return key, value

    def runtime_image(self, name: str) -> str:
        """The reference of one of our runtime_images, e.g. ghcr.io/cnai-dev/cnai-preload:0.1.0."""
        return f"{self.image_registry.rstrip('/')}/cnai-{name}:{self.image_tag}"


@dataclass
class CompileContext:
    options: Options = field(default_factory=Options)
    diagnostics: DiagnosticBag = field(default_factory=DiagnosticBag)
    explain: list[str] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)  # every file read, by path
    # Sizes of emitted objects (limits.object_size) that their backend worked out already,
    # by id() and with the object (an id names one object only while it lives): check_size
    # reads them rather than writing each object's JSON again.
    sizes: dict[int, tuple[object, int]] = field(default_factory=dict)

    def unsupported(self, span: Span, code: str, message: str, *, help: str = "") -> None:
        """A construct the target cannot express: an error pointing at the user's text."""
        self.diagnostics.error(code, message, span, "not supported by this target",
                               help=[help] if help else [])
