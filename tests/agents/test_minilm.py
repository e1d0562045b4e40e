"""The numpy all-MiniLM-L6-v2: sentence-transformers' embeddings, without torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from agents import dense
from tests.support.helpers import ROOT, needs_dense

TEXTS = [
    "How do I reset my password?",
    "To reset your password, open Settings and choose Reset password.",
    "  spaces around  ",
    "Ünïcödé café naïve 東京",
    "",
    "word " * 400,  # longer than the 256 word pieces the model reads
    "a kitten naps on the couch",
]


@needs_dense
def test_the_numpy_model_gives_sentence_transformers_embeddings() -> None:
    ours = dense.small()
    found = ours.encode(ours.tokens(TEXTS), batch_size=3)  # batches of unequal lengths
    expected = dense._loaded().encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert found.shape == (len(TEXTS), dense.DIMENSIONS) and found.dtype == np.float32
    assert np.abs(found - expected).max() < 1e-5


@needs_dense
def test_a_small_request_loads_no_torch_and_a_large_one_does() -> None:
    code = (
        "import sys\n"
        "from agents import dense\n"
        "dense.encode(['how do I reset my password?', 'open Settings'])\n"
        "print('torch' in sys.modules, dense._model is None)\n"
        "dense.encode(['word ' * 200] * (dense.SMALL_TOKENS // 200 + 1))\n"
        "print('torch' in sys.modules, dense._model is None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["False True", "True False"]
