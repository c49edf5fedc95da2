"""The span reader: training data, training loop, calibration (`python -m sentra_training.reader`)."""
