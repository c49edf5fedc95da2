"""python -m sentra_inference: run the inference service."""

from sentra_common.runtime import main

from sentra_inference.app import SERVICE, inference_app
from sentra_inference.config import InferenceSettings

if __name__ == "__main__":
    main(SERVICE, InferenceSettings, inference_app)
