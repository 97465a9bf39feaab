"""A data set's `credentials = "SECRET"`: the Secret is mounted read-only in its preload step
at /cnai/credentials and CNAI_CREDENTIALS_DIR says where (#15 item 8), on both targets; the
preload image turns its keys into variables (runtime_images/preload, credentials.py)."""

from __future__ import annotations

import pytest
import yaml

import schemacheck
from cnai import compile_source
from cnai.driver import CompileFailed
from test_kfp_support import pipeline_spec, platform_spec

TEXT = """pipeline p {
  dataset imagenet {
    source = "s3://datasets/imagenet"  path = "/data"  size = "10Gi"  credentials = "s3-reader"
  }
  dataset open { source = "https://example.com/x.tar"  path = "/open"  size = "1Gi" }
  step train { image = "alpine:3.20"  command = ["ls", "/data", "/open"]  mount imagenet
               mount open }
}
"""


def test_argo_mounts_the_secret_in_the_preload_only() -> None:
    workflow = yaml.safe_load(compile_source(TEXT, "p.cnai", "argo").text)
    schemacheck.assert_valid(workflow)
    templates = {t["name"]: t for t in workflow["spec"]["templates"]}
    preload = templates["preload-imagenet"]
    assert {"name": "cnai-credentials", "secret": {"secretName": "s3-reader"}} in preload[
        "volumes"]
    container = preload["container"]
    assert {"name": "cnai-credentials", "mountPath": "/cnai/credentials",
            "readOnly": True} in container["volumeMounts"]
    assert {"name": "CNAI_CREDENTIALS_DIR", "value": "/cnai/credentials"} in container["env"]
    for name in ("preload-open", "train"):
        assert "cnai-credentials" not in str(templates[name])


def test_kubeflow_mounts_the_secret_in_the_preload_only() -> None:
    documents = list(yaml.safe_load_all(compile_source(TEXT, "p.cnai", "kfp").text))
    pipeline_spec(documents[0])
    configs = platform_spec(documents[1])
    with_secret = [name for name, config in configs.items() if config.secret_as_volume]
    assert with_secret == ["exec-preload-imagenet"]
    (volume,) = configs["exec-preload-imagenet"].secret_as_volume
    assert (volume.secret_name, volume.mount_path, volume.optional) == (
        "s3-reader", "/cnai/credentials", False)
    assert volume.secret_name_parameter.runtime_value.constant.string_value == "s3-reader"
    container = documents[0]["deploymentSpec"]["executors"]["exec-preload-imagenet"][
        "container"]
    assert {"name": "CNAI_CREDENTIALS_DIR", "value": "/cnai/credentials"} in container["env"]


@pytest.mark.parametrize(("field", "words"), [
    ('credentials = "S3_Reader"', 'invalid Secret name "S3_Reader"'),
    ('credentials = "s3-reader"  engine = "fluid"', "for data sets the preload step copies"),
])
def test_credentials_errors(field: str, words: str) -> None:
    text = f"""pipeline p {{
  dataset d {{ source = "s3://b/k"  path = "/d"  size = "1Gi"  {field} }}
  step s {{ image = "alpine:3.20"  mount d }}
}}
"""
    with pytest.raises(CompileFailed) as failed:
        compile_source(text, "p.cnai", "argo")
    assert [(d.code, d.span.line) for d in failed.value.diagnostics] == [("E0208", 2)]
    assert words in failed.value.diagnostics[0].message
