"""Sentra training service: the training core (datasets of questions and answers, LoRA training, evaluation)."""
