"""all-MiniLM-L6-v2 in numpy: sentence-transformers' embeddings without torch.

Importing torch and sentence-transformers (which brings scikit-learn and scipy) takes 3-4 s
on 2 cores, the better part of a short embedded run; this forward pass needs numpy and the
``tokenizers`` and ``safetensors`` packages that come with the extra (0.1 s to import, 0.2 s
to read the weights). Its embeddings agree with sentence-transformers' to 3e-7 (float32
rounding): a BERT encoder (6 layers, 12 heads), the mean of the tokens' last states, and
unit length. On a few dozen short texts it is as fast; on bulk it is about 1.8 times
slower (numpy runs one operation at a time where torch fuses them), so ``agents.dense``
uses it for small requests and sentence-transformers for large ones.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float32]
_LAYER = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "attention.output.LayerNorm",
    "intermediate.dense",
    "output.dense",
    "output.LayerNorm",
)
# Abramowitz and Stegun 7.1.26: erf to 1.5e-7, within float32's own rounding.
_ERF_P = np.float32(0.3275911)
_ERF_A = tuple(
    np.float32(a) for a in (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
)


class MiniLM:
    """``MiniLM.load(folder).encode(texts)``: normalised float32 embeddings, one row each."""

    def __init__(self, tokenizer: Any, weights: dict[str, Array], config: dict[str, Any]) -> None:
        self.tokenizer = tokenizer
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        self.embeddings = {
            name: weights[f"embeddings.{name}"]
            for name in ("word_embeddings.weight", "position_embeddings.weight")
        }
        self.embeddings["token_type"] = weights["embeddings.token_type_embeddings.weight"][0]
        self.embeddings_norm = _norm(weights, "embeddings.LayerNorm")
        self.layers = [
            _layer(weights, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))
        ]

    @classmethod
    def load(cls, folder: Path) -> MiniLM:
        """The model saved in ``folder`` (a sentence-transformers folder: ``tokenizer.json``,
        ``model.safetensors``, ``config.json``, ``sentence_bert_config.json``)."""
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((folder / "config.json").read_text())
        longest = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.enable_truncation(int(longest))
        tokenizer.no_padding()
        return cls(tokenizer, load_file(str(folder / "model.safetensors")), config)

    def tokens(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's word pieces, as sentence-transformers reads it (stripped, truncated)."""
        return [
            list(found.ids) for found in self.tokenizer.encode_batch([t.strip() for t in texts])
        ]

    def encode(self, tokens: Sequence[Sequence[int]], batch_size: int) -> Array:
        """The embeddings of texts given as ``tokens``, in batches of similar lengths."""
        order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
        width = self.layers[0]["attention.output.dense"][1].shape[0] if self.layers else 0
        vectors = np.zeros((len(tokens), width), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            longest = max(len(tokens[i]) for i in batch)
            ids = np.zeros((len(batch), longest), dtype=np.int64)
            mask = np.zeros((len(batch), longest), dtype=np.float32)
            for row, i in enumerate(batch):
                ids[row, : len(tokens[i])] = tokens[i]
                mask[row, : len(tokens[i])] = 1.0
            vectors[batch] = self._forward(ids, mask)
        return vectors

    def _forward(self, ids: npt.NDArray[np.int64], mask: Array) -> Array:
        length = ids.shape[1]
        states = (
            self.embeddings["word_embeddings.weight"][ids]
            + self.embeddings["position_embeddings.weight"][:length]
            + self.embeddings["token_type"]
        )
        states = _layer_norm(states, *self.embeddings_norm, self.eps)
        # Padding is no key to attend to (the large negative is what transformers adds).
        hidden = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self.layers:
            states = self._block(states, hidden, layer)
        weights = mask[..., None]
        pooled = (states * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return np.asarray(pooled / norms, dtype=np.float32)

    def _block(self, states: Array, hidden: Array, layer: dict[str, tuple[Array, Array]]) -> Array:
        batch, length, width = states.shape
        size = width // self.heads

        def heads(name: str) -> Array:
            weight, bias = layer[name]
            projected = states @ weight + bias
            return projected.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

        query, key, value = (heads(f"attention.self.{n}") for n in ("query", "key", "value"))
        scores = query @ key.transpose(0, 1, 3, 2) / np.float32(np.sqrt(size)) + hidden
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attended = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, length, width)
        weight, bias = layer["attention.output.dense"]
        states = _layer_norm(
            attended @ weight + bias + states, *layer["attention.output.LayerNorm"], self.eps
        )
        weight, bias = layer["intermediate.dense"]
        inner = states @ weight
        inner += bias
        weight, bias = layer["output.dense"]
        return _layer_norm(
            _gelu(inner) @ weight + bias + states, *layer["output.LayerNorm"], self.eps
        )


def _layer(weights: dict[str, Array], prefix: str) -> dict[str, tuple[Array, Array]]:
    """One encoder layer's weights, dense ones transposed for ``states @ weight``."""
    return {
        name: (
            _norm(weights, prefix + name)
            if name.endswith("LayerNorm")
            else (
                np.ascontiguousarray(weights[f"{prefix}{name}.weight"].T),
                weights[f"{prefix}{name}.bias"],
            )
        )
        for name in _LAYER
    }


def _norm(weights: dict[str, Array], name: str) -> tuple[Array, Array]:
    return weights[f"{name}.weight"], weights[f"{name}.bias"]


def _layer_norm(states: Array, scale: Array, shift: Array, eps: float) -> Array:
    mean = states.mean(axis=-1, keepdims=True)
    centred = states - mean
    variance = (centred * centred).mean(axis=-1, keepdims=True)
    return np.asarray(centred / np.sqrt(variance + np.float32(eps)) * scale + shift, np.float32)


def _gelu(x: Array) -> Array:
    """BERT's exact GELU, x (1 + erf(x / sqrt 2)) / 2, in place: the largest activations of
    the model, so no temporary more than needed."""
    a = np.abs(x) * np.float32(1 / np.sqrt(2))
    tail = np.exp(-(a * a))
    t = np.multiply(a, _ERF_P)
    t += 1
    np.reciprocal(t, out=t)
    poly = np.multiply(t, _ERF_A[0])
    for coefficient in _ERF_A[1:]:
        poly += coefficient
        poly *= t
    poly *= tail  # 1 - erf(|x| / sqrt 2): also 1 + erf(x / sqrt 2) where x < 0
    np.subtract(2, poly, out=poly, where=x >= 0)
    x *= poly
    x *= np.float32(0.5)
    return x
