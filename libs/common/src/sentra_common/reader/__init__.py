"""Sentra's reader: given a question and the passages retrieved for it, which sentence
answers it (if any), with the shortest answer and how sure it is.

- `reading`: what a reading is (plain data; the answering domain imports only this);
- `features`, `combiner`: the lexical evidence and how it is weighed (no torch);
- `model`: the cross-encoder and bi-encoder, and the artifact format (torch);
- `runtime`: the reader that puts them together (torch).

Trained, calibrated and evaluated by `python -m sentra_training.reader`; served by the
inference service.
"""
