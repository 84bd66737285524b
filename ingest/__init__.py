"""Ingest: text and PDF files in, clean cited clauses out."""
