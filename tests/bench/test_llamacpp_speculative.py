"""The speculative-decoding benchmark asks llama-server Sentra's own generative prompts (no
server here: only how the prompts are built)."""

from __future__ import annotations

import sys

from tests.support.platform import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import llamacpp_speculative as bench


def test_the_prompts_are_sentras_answer_prompts_with_three_passages_and_the_question():
    prompts = bench.answer_prompts(4, seed=3)
    assert len(prompts) == 4 and len(set(prompts)) == 4
    assert prompts == bench.answer_prompts(4, seed=3)  # the same prompts for the same seed
    for prompt in prompts:
        real = prompt.rsplit("Fragmentos:", 1)[1]  # after the worked examples
        assert all(f"\n[{n}] (" in real for n in (1, 2, 3)) and "\n[4] (" not in real
        assert "\nPregunta: " in real and real.endswith("\nRespuesta:")


def test_plain_decoding_is_the_baseline_and_every_other_configuration_speculates():
    names = list(bench.CONFIGURATIONS)
    assert names[0] == "plain" and bench.CONFIGURATIONS["plain"] == []
    assert all("--spec-type" in bench.CONFIGURATIONS[name] for name in names[1:])
