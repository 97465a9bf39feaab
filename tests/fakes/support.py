"""Shared by the submission tests: pipelines, a hermetic environment, and running the command.

Tests run ``cnai submit`` in-process through ``cnai.cli.main``, against the fakes in this
package.
"""

from __future__ import annotations

import datetime
import ipaddress
import re
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnai.cli import main

DEMO = """\
pipeline demo {
  description = "submit tests"
  param epochs: int = 3
  param lr: float = 0.1
  param tag: string = "base"
  param layers: list[int] = [64, 32]
  param fast: bool = false
  step train {
    image   = "python:3.12"
    command = ["python", "train.py", "--epochs", "${epochs}", "--lr", "${lr}", "--tag", tag,
               "--fast", "${fast}", "--layers", "${layers}"]
  }
}
"""

NIGHTLY = """\
pipeline nightly {
  schedule = "0 2 * * *"
  param tag: string = "nightly"
  step train { image = "python:3.12"  command = ["python", "train.py", tag] }
}
"""

REQUIRED = """\
pipeline needs_data {
  param data: string
  step train { image = "python:3.12"  command = ["python", "train.py", data] }
}
"""

BROKEN = """\
pipeline broken {
  step train after trian { image = "python:3.12"  command = ["true"] }
}
"""

ENVIRONMENT = ("ARGO_TOKEN", "ARGO_NAMESPACE", "ARGO_SERVER", "KF_PIPELINES_ENDPOINT",
               "KF_PIPELINES_UI_ENDPOINT", "http_proxy", "https_proxy", "all_proxy",
               "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
               "CNAI_DEBUG")
BACKOFF = 0.01  # CNAI_SUBMIT_BACKOFF in tests: delays of 0.01, 0.02, 0.04 s


def hermetic(monkeypatch: pytest.MonkeyPatch) -> None:
    """No token, proxy or server from the developer's shell; a small backoff."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("CNAI_SUBMIT_BACKOFF", str(BACKOFF))


def write(directory: Path, text: str, name: str = "pipeline.cnai") -> str:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float


def submit(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    capsys.readouterr()
    start = time.monotonic()
    code = main(["submit", *argv])
    seconds = time.monotonic() - start
    out, err = capsys.readouterr()
    return Result(code, out, err, seconds)


def without_clock(text: str) -> list[str]:
    """The lines of --watch output, each elapsed time (``0:00:01``) replaced by ``T``."""
    return [re.sub(r"\b\d+:\d\d:\d\d\b", "T", line) for line in text.splitlines()]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def self_signed(directory: Path) -> tuple[ssl.SSLContext, str]:
    """A server context with a fresh self-signed certificate for 127.0.0.1, and the path of
    that certificate (to trust it as a CA bundle)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cnai-test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, str(cert_path)
