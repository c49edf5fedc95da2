"""python -m sentra_embedding: run the embedding service."""

from sentra_common.runtime import main

from sentra_embedding.app import SERVICE, embedding_app
from sentra_embedding.config import EmbeddingSettings

if __name__ == "__main__":
    main(SERVICE, EmbeddingSettings, embedding_app)
