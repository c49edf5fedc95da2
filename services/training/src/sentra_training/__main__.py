"""python -m sentra_training: run the training service."""

from sentra_common.runtime import main

from sentra_training.app import SERVICE, training_app
from sentra_training.config import TrainingSettings

if __name__ == "__main__":
    main(SERVICE, TrainingSettings, training_app)
