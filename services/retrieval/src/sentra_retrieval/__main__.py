"""python -m sentra_retrieval: run the retrieval service."""

from sentra_common.runtime import main

from sentra_retrieval.app import SERVICE, retrieval_app
from sentra_retrieval.config import RetrievalSettings

if __name__ == "__main__":
    main(SERVICE, RetrievalSettings, retrieval_app)
