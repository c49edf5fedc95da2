"""The cluster's question generator: an OpenAI-compatible server (vLLM's API) given a
prompt, here a stand-in HTTP server in the test; its replies become questions, and a
failing or malformed server fails clearly."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sentra_training.adapters.prompted_generator import PromptedGenerator
from sentra_training.config import DatasetSettings
from sentra_training.datasets.qg import Request


class Served:
    def __init__(self, status: int = 200, reply: dict | None = None) -> None:
        self.requests: list[dict] = []
        served = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                served.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                answer = body["messages"][1]["content"].split("Answer: ")[1]
                payload = reply if reply is not None else {
                    "choices": [{"message": {"role": "assistant", "content": f"¿Qué vale {answer}?\nextra"}}]}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()


def test_questions_come_from_the_served_model_with_the_passage_and_answer_in_the_prompt():
    served = Served()
    generator = PromptedGenerator(served.url, "qwen-instruct", api_key="k3y")
    try:
        questions = generator.generate([Request("Se teletrabaja 2 días.", "2 días"), Request("Vale 30 euros.",
                                                                                            "30 euros")])
    finally:
        generator.close()
        served.close()
    assert questions == ["¿Qué vale 2 días?", "¿Qué vale 30 euros?"]  # the first line only
    assert generator.generator_id == "prompted:qwen-instruct"
    first = sorted(served.requests, key=lambda r: r["messages"][1]["content"])[0]
    assert first["path"] == "/v1/chat/completions" and first["model"] == "qwen-instruct"
    assert first["temperature"] == 0 and first["auth"] == "Bearer k3y"
    assert "Text: Se teletrabaja 2 días." in first["messages"][1]["content"]


@pytest.mark.parametrize(("status", "reply", "message"), [
    (500, {"error": "boom"}, "answered HTTP 500"),
    (200, {"choices": []}, "not an OpenAI chat completion"),
])
def test_a_failing_server_fails_with_the_reason(status, reply, message):
    served = Served(status, reply)
    generator = PromptedGenerator(served.url, "m")
    try:
        with pytest.raises(RuntimeError, match=message):
            generator.generate([Request("Texto.", "x")])
    finally:
        generator.close()
        served.close()


def test_an_unreachable_server_and_a_half_configuration_are_refused():
    generator = PromptedGenerator("http://127.0.0.1:9/v1", "m", timeout=2)
    with pytest.raises(RuntimeError, match="unreachable"):
        generator.generate([Request("Texto.", "x")])
    with pytest.raises(ValueError, match="set both"):
        DatasetSettings(generator_url="http://vllm:8000/v1")
