"""The embedding service: texts in, vectors out, batched on the model."""
