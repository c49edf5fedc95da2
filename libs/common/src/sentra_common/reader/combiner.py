"""How the reader weighs its evidence: a logistic model over the features of a candidate
sentence (`sentra_common.reader.features`), fitted on SQuAD-es (the calibration split of
`sentra_training.squad`, never on an evaluation set) by `python -m sentra_training.reader
calibrate`. Its output is a logit: "this sentence answers the question"."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass


@dataclass
class Combiner:
    features: list[str]
    mean: list[float]
    scale: list[float]
    weights: list[float]
    bias: float

    def score(self, values: Mapping[str, float]) -> float:
        total = self.bias
        for name, mean, scale, weight in zip(self.features, self.mean, self.scale, self.weights, strict=True):
            total += weight * (values[name] - mean) / scale
        return total

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Combiner:
        combiner = cls(**{k: data[k] for k in cls.__dataclass_fields__})
        sizes = {len(combiner.features), len(combiner.mean), len(combiner.scale), len(combiner.weights)}
        if len(sizes) != 1:
            raise ValueError("a combiner needs one mean, scale and weight per feature")
        return combiner
