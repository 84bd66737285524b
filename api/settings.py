"""Settings from the environment (prefix REGKB_), shared by the CLI and the server."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="REGKB_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the corpus store and the index live")
    embedding_model: str | None = Field(None, description="a local sentence-transformers folder; default e5-small")
    host: str = "127.0.0.1"
    port: int = 8000
    max_query_chars: int = Field(500, description="longest accepted query, in characters")
    max_k: int = 50
    admin_token: str | None = Field(None, description="enables the write endpoints (upload, rebuild) when set")
    max_upload_bytes: int = 20 * 1024 * 1024
    helpdesk_token: str | None = Field(None, description="lets helpdesk staff save and review answers (the admin "
                                                         "token does too)")
    max_answer_chars: int = Field(10000, description="longest saved answer text, in characters")
    max_answer_question_chars: int = Field(2000, description="longest saved question, in characters")
    max_answer_citations: int = Field(20, description="most cited clauses per saved answer")
    max_answers_import_bytes: int = Field(5 * 1024 * 1024, description="largest answers import file")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
