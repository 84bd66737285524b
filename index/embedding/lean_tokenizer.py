"""A lean reading of an XLM-R (sentencepiece Unigram) ``tokenizer.json``: the same ids as the ``tokenizers`` library,
in a fraction of its memory and start-up time.

``tokenizers`` builds a character trie over the 250,002 pieces of multilingual-e5: ~280 MiB of the server's RSS and
~2 s of its start-up on 2 cores, for queries of a few dozen characters. Here the pieces live in one Python dict
(~30 MiB) and the best segmentation is found by the same Viterbi search as ``tokenizers``' ``Unigram`` (pieces
tried shortest first, a later path replaces the best one only when it scores strictly higher, an unknown
character scores ``min_score - 10`` and runs of unknown characters fuse into one ``<unk>``). Normalisation and
pre-tokenisation (Metaspace) are still done by ``tokenizers`` itself, from the same JSON with a four-piece vocabulary,
so they cannot drift. A text that contains a special token's literal form (``<mask>`` …) is handed to the full
``tokenizers`` object, loaded only then: its added-token rules (``lstrip`` …) are not reimplemented.
tests/test_embedding.py checks the ids against ``tokenizers`` on the bundled corpus, queries and random text.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

from index.fastjson import loads

UNK_PENALTY = 10.0  # tokenizers' K_UNK_PENALTY


class LeanTokenizer:
    """Encodes batches into (input_ids, attention_mask) int64 arrays, padded to the longest, truncated to
    ``max_length`` tokens including ``<s>`` and ``</s>``."""

    def __init__(self, path: Path, max_length: int, pad_id: int) -> None:
        from tokenizers import Tokenizer

        self._path = Path(path)
        spec = loads(self._path.read_bytes())
        model = spec["model"]
        if model.get("type") != "Unigram" or model.get("byte_fallback"):
            raise ValueError(f"{path}: not a Unigram model without byte fallback")
        pieces, scores = self._vocab(model["vocab"])
        self._ids: dict[str, int] = dict(zip(pieces, range(len(pieces))))
        if len(self._ids) != len(pieces):
            raise ValueError(f"{path}: repeated pieces")
        self._scores: list[float] = scores
        self._unk_id = int(model["unk_id"])
        self._unk_score = min(scores) - UNK_PENALTY
        # the longest piece that starts with each character: most Japanese characters start only short pieces
        longest: dict[str, int] = {}
        for p in pieces:
            if p and len(p) > longest.get(p[0], 0):
                longest[p[0]] = len(p)
        self._longest = longest
        self._specials = [t["content"] for t in spec.get("added_tokens", ())]
        processor = spec.get("post_processor") or {}
        special = processor.get("special_tokens", {})
        single = [next(iter(part)) for part in processor.get("single", ())]
        if processor.get("type") != "TemplateProcessing" or single != ["SpecialToken", "Sequence", "SpecialToken"]:
            raise ValueError(f"{path}: post-processor is not <s> A </s>")
        self._bos = int(special["<s>"]["ids"][0])
        self._eos = int(special["</s>"]["ids"][0])
        # The normaliser and the pre-tokeniser, by tokenizers itself, from the same JSON with a tiny vocabulary.
        spec["model"] = {**model, "vocab": model["vocab"][:max(4, self._unk_id + 1)]}
        spec["added_tokens"] = []
        small = Tokenizer.from_str(json.dumps(spec, ensure_ascii=False))
        self._normalizer = small.normalizer
        self._pre_tokenizer = small.pre_tokenizer
        del spec, model, small
        self.max_length = int(max_length)
        self.pad_id = int(pad_id)
        self._full: Any = None
        self._full_lock = threading.Lock()

    @staticmethod
    def _vocab(vocab: list[list[Any]]) -> tuple[list[str], list[float]]:
        return [p for p, _ in vocab], [float(s) for _, s in vocab]

    # -- one text ------------------------------------------------------------------------------------------------

    def _word(self, word: str, out: list[int]) -> None:
        """Viterbi over one pre-tokenised word, as tokenizers' Unigram.encode_optimized."""
        n = len(word)
        score = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        piece = [0] * (n + 1)
        ids, scores, longest = self._ids, self._scores, self._longest
        unk_id, unk_score = self._unk_id, self._unk_score
        for i in range(n):
            here = score[i]
            single = False
            for j in range(i + 1, min(n, i + longest.get(word[i], 0)) + 1):
                pid = ids.get(word[i:j])
                if pid is None:
                    continue
                cand = scores[pid] + here
                if start[j] < 0 or cand > score[j]:
                    score[j], start[j], piece[j] = cand, i, pid
                if j == i + 1:
                    single = True
            if not single:
                cand = unk_score + here
                if start[i + 1] < 0 or cand > score[i + 1]:
                    score[i + 1], start[i + 1], piece[i + 1] = cand, i, unk_id
        found: list[int] = []
        end = n
        while end > 0:
            pid = piece[end]
            if not (pid == unk_id and found and found[-1] == unk_id):  # runs of unknown characters: one <unk>
                found.append(pid)
            end = start[end]
        out.extend(reversed(found))

    def ids(self, text: str) -> list[int]:
        """Token ids of ``text`` with ``<s>`` and ``</s>``, truncated to ``max_length``."""
        if any(s in text for s in self._specials):
            return self._full_tokenizer().encode(text).ids[: self.max_length]
        normalized = self._normalizer.normalize_str(text)
        body: list[int] = []
        for word, _ in self._pre_tokenizer.pre_tokenize_str(normalized):
            self._word(word, body)
            if len(body) >= self.max_length - 2:
                break
        return [self._bos, *body[: self.max_length - 2], self._eos]

    def _full_tokenizer(self) -> Any:
        with self._full_lock:
            if self._full is None:
                from tokenizers import Tokenizer

                full = Tokenizer.from_file(str(self._path))
                full.no_padding()
                full.enable_truncation(self.max_length)
                self._full = full
            return self._full

    # -- batches -------------------------------------------------------------------------------------------------

    def encode_batch(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask), int64, padded on the right with ``pad_id`` to the longest text."""
        rows = [self.ids(t) for t in texts]
        width = max((len(r) for r in rows), default=0)
        input_ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        for i, r in enumerate(rows):
            input_ids[i, : len(r)] = r
            mask[i, : len(r)] = 1
        return input_ids, mask
