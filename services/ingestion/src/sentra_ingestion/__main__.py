"""python -m sentra_ingestion: run the ingestion service."""

from sentra_common.runtime import main

from sentra_ingestion.app import SERVICE, ingestion_app
from sentra_ingestion.config import IngestionSettings

if __name__ == "__main__":
    main(SERVICE, IngestionSettings, ingestion_app)
