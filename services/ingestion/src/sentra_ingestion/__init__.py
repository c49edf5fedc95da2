"""The ingestion service: document registry, parsing, chunking and connectors."""
