"""The OpenAI-compatible HTTP backend against a real llama-cpp-python server on loopback."""

import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from atlas_kernel.models.base import Sampling
from atlas_kernel.models.openai_http import OpenAIModel, ServerError
from atlas_kernel.models.registry import load_model

pytestmark = pytest.mark.real_model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(smollm2_path):
    pytest.importorskip("uvicorn", reason="llama-cpp-python[server] extra not installed")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", smollm2_path, "--host", "127.0.0.1",
         "--port", str(port), "--n_ctx", "2048", "--n_threads", "1", "--model_alias", "smollm2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/v1/models", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("llama_cpp.server exited at start")
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("llama_cpp.server did not come up in 60 s")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_chat_and_raw_completion_through_the_server(server):
    model = load_model(server)
    assert isinstance(model, OpenAIModel) and model.model_id == "smollm2"
    c = model.generate([{"role": "user", "content": "Write a Python function add(a, b)."}], Sampling(max_tokens=24))
    assert c.text and c.completion_tokens > 0 and c.prompt_tokens > 0
    r = model.generate("def add(a, b):\n", Sampling(max_tokens=12, logprobs=True, stop=("\n\n",)))
    assert r.token_logprobs and all(v <= 0 for v in r.token_logprobs)
    many = model.generate_many("def add(a, b):\n", [Sampling(max_tokens=8)] * 3)
    assert len(many) == 3 and len({m.text for m in many}) == 1  # greedy: identical


def test_unreachable_server_is_retried_then_named_in_one_error():
    port = _free_port()  # nothing listens there
    model = OpenAIModel(f"http://127.0.0.1:{port}", model="m", retries=2, backoff_s=0.01, timeout_s=2)
    t0 = time.time()
    with pytest.raises(ServerError, match="cannot reach .* is the server running"):
        model.generate("x", Sampling(max_tokens=2))
    assert time.time() - t0 < 10


def test_a_begun_assistant_turn_is_sent_to_be_continued(monkeypatch):
    from atlas_kernel.models.openai_http import OpenAIModel

    sent = []

    def fake_request(self, method, path, body=None):
        sent.append(body)
        return {"choices": [{"message": {"content": "    return 1\n"}}], "usage": {}}

    monkeypatch.setattr(OpenAIModel, "_request", fake_request)
    model = OpenAIModel("http://127.0.0.1:9", model="m")
    model.generate([{"role": "user", "content": "write f"}], Sampling(max_tokens=4))
    model.generate([{"role": "user", "content": "write f"}, {"role": "assistant", "content": "```python\ndef f():\n"}],
                   Sampling(max_tokens=4))
    assert "continue_final_message" not in sent[0]
    assert sent[1]["continue_final_message"] is True and sent[1]["add_generation_prompt"] is False
