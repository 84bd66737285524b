"""Settings from the environment (prefix REGKB_), shared by the CLI and the server."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from corpus.query import MAX_QUERY_CHARS
from index.embedding.base import EncoderConfig
from index.vocabulary import Vocabulary, default_vocabulary


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGKB_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the corpus store and the index live")
    embedding_model: str | None = Field(None, description="a local sentence-transformers folder; default e5-small")
    model_cache: Path | None = Field(None, description="converted and exported models; default ~/.cache/regkb/models")
    embedding_backend: Literal["auto", "onnx-int8", "onnx-fp32", "torch", "torch-bf16"] = Field(
        "auto", description="auto: queries in int8 ONNX where the CPU has VNNI, else fp32 ONNX; a build's passages "
                            "in bfloat16 torch where the CPU has AVX512-BF16/AMX, else as queries; torch, "
                            "torch-bf16: sentence-transformers in that precision for both")
    embedding_threads: int | None = Field(None, ge=1, description="threads per embedding pass; default: half the "
                                                                  "CPUs, at most 4, for queries; all CPUs for builds")
    host: str = "127.0.0.1"
    port: int = 8000
    vocabulary_file: Path | None = Field(None, description="your own domain terms, a UTF-8 TSV read after the "
                                         "bundled index/data/vocabulary.tsv (official<TAB>variant<TAB>…)")
    max_query_chars: int = Field(MAX_QUERY_CHARS, ge=1, description="longest accepted query, in characters: the "
                                 "API's schema and the search itself (corpus.query.check_query)")
    max_k: int = 50
    admin_token: str | None = Field(None, description="enables the write endpoints (upload, rebuild) when set")
    max_upload_bytes: int = 20 * 1024 * 1024
    helpdesk_token: str | None = Field(None, description="lets helpdesk staff save and review answers (the admin "
                                                         "token does too)")
    max_answer_chars: int = Field(10000, description="longest saved answer text, in characters")
    max_answer_question_chars: int = Field(2000, description="longest saved question, in characters")
    max_answer_citations: int = Field(20, description="most cited clauses per saved answer")
    max_answers_import_bytes: int = Field(5 * 1024 * 1024, description="largest answers import file")

    def vocabulary(self) -> Vocabulary:
        """The bundled domain vocabulary with the user's file (``vocabulary_file``) read after it."""
        return default_vocabulary(self.vocabulary_file)

    def encoder(self) -> EncoderConfig:
        """The embedding settings as the index layer takes them (it never reads the environment itself)."""
        return EncoderConfig(model=self.embedding_model, cache_dir=self.model_cache, backend=self.embedding_backend,
                             threads=self.embedding_threads)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
