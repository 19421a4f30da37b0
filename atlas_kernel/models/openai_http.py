"""Any OpenAI-compatible server (llama-server, llama-cpp-python's server, vLLM, Ollama) by URL.

Uses only the standard library. Requests time out and are retried with exponential
backoff on connection errors, 429 and 5xx; 4xx answers are errors that name the server's
message. `generate_many` sends the k requests concurrently so a server that batches
(vLLM, llama-server with parallel slots) decodes them together.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Sequence

import numpy as np

from atlas_kernel.errors import AtlasError, ModelLoadError
from atlas_kernel.models.base import Completion, Prompt, Sampling


class ServerError(AtlasError):
    pass


class OpenAIModel:
    def __init__(self, base_url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout_s: float = 120.0, retries: int = 3, backoff_s: float = 0.5, max_parallel: int = 8):
        base = base_url.rstrip("/")
        if not base.endswith("/v1"):
            base += "/v1"
        self.base_url = base
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_parallel = max_parallel
        self._model = model
        self._dim: int | None = None
        self.name = f"{self.model_id}@{base_url}"

    # -- transport ---------------------------------------------------------------------
    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode("utf-8", "replace")[:500]
                if exc.code == 429 or exc.code >= 500:
                    last = ServerError(f"{url} answered HTTP {exc.code}: {detail}")
                else:
                    raise ServerError(f"{url} answered HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = ServerError(f"cannot reach {url} ({reason}) — is the server running? start one with e.g. "
                                   f"`python -m llama_cpp.server --model FILE.gguf` or `llama-server -m FILE.gguf`")
            if attempt < self.retries:
                time.sleep(self.backoff_s * (2 ** attempt))
        assert last is not None
        raise last

    @property
    def model_id(self) -> str:
        if self._model is None:
            try:
                models = self._request("GET", "/models").get("data", [])
            except ServerError as exc:
                raise ModelLoadError(str(exc)) from None
            if not models:
                raise ModelLoadError(f"{self.base_url}/models lists no model — pass model=NAME")
            self._model = str(models[0]["id"])
        return self._model

    # -- generation ----------------------------------------------------------------------
    def _body(self, sampling: Sampling) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model_id, "temperature": sampling.temperature, "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
        }
        if sampling.top_k:
            body["top_k"] = sampling.top_k  # llama.cpp and vLLM accept it; others ignore it
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        return body

    def generate(self, prompt: Prompt, sampling: Sampling | None = None) -> Completion:
        sampling = sampling or Sampling()
        body = self._body(sampling)
        chat = not isinstance(prompt, str)
        if chat:
            body["messages"] = [dict(m) for m in prompt]
            if prompt and prompt[-1].get("role") == "assistant":
                # a begun answer is continued, not answered anew (vLLM's flags; llama-server continues it
                # by itself and ignores them)
                body["continue_final_message"] = True
                body["add_generation_prompt"] = False
            if sampling.logprobs:
                body["logprobs"] = True
        else:
            body["prompt"] = prompt
            if sampling.logprobs:
                body["logprobs"] = 1
        t0 = time.perf_counter()
        out = self._request("POST", "/chat/completions" if chat else "/completions", body)
        elapsed = time.perf_counter() - t0
        try:
            choice = out["choices"][0]
            text = choice["message"]["content"] if chat else choice["text"]
        except (KeyError, IndexError, TypeError):
            raise ServerError(f"unexpected answer from {self.base_url}: {str(out)[:300]}") from None
        usage = out.get("usage") or {}
        logprobs = None
        lp = choice.get("logprobs")
        if sampling.logprobs and lp:
            if chat and isinstance(lp.get("content"), list):
                logprobs = [float(t.get("logprob", 0.0)) for t in lp["content"]]
            elif isinstance(lp.get("token_logprobs"), list):
                logprobs = [float(v) for v in lp["token_logprobs"] if v is not None]
        n_out = int(usage.get("completion_tokens") or (len(logprobs) if logprobs else len(text.split())))
        return Completion(
            text=text or "", prompt_tokens=int(usage.get("prompt_tokens") or 0), completion_tokens=n_out,
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            elapsed_s=elapsed, token_logprobs=logprobs, meta={"backend": "openai"},
        )

    def generate_many(self, prompt: Prompt, samplings: Sequence[Sampling]) -> list[Completion]:
        if len(samplings) <= 1:
            return [self.generate(prompt, s) for s in samplings]
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(samplings))) as pool:
            return list(pool.map(lambda s: self.generate(prompt, s), samplings))

    def generate_batch(self, prompts: Sequence[Prompt], samplings: Sequence[Sampling]) -> list[Completion]:
        # concurrent requests: a server with continuous batching decodes them together
        if len(prompts) <= 1:
            return [self.generate(p, s) for p, s in zip(prompts, samplings)]
        with ThreadPoolExecutor(max_workers=min(self.max_parallel, len(prompts))) as pool:
            return list(pool.map(lambda ps: self.generate(*ps), zip(prompts, samplings)))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedding_dim if self._dim else 0), dtype=np.float32)
        try:
            out = self._request("POST", "/embeddings", {"model": self.model_id, "input": list(texts)})
        except ServerError as exc:
            raise ServerError(f"{exc} — the server must serve embeddings (llama-server: --embeddings; "
                              f"llama_cpp.server: --embedding true)") from None
        rows = sorted(out.get("data", []), key=lambda d: d.get("index", 0))
        vecs = []
        for r in rows:
            v = np.asarray(r["embedding"], dtype=np.float32)
            if v.ndim == 2:  # some servers return per-token vectors: pool by mean, as we do in-process
                v = v.mean(axis=0)
            vecs.append(v)
        arr = np.stack(vecs).astype(np.float32)
        self._dim = arr.shape[1]
        return arr

    @property
    def embedding_dim(self) -> int:
        if self._dim is None:
            self.embed(["x"])
        assert self._dim is not None
        return self._dim

    def count_tokens(self, text: str) -> int:
        try:  # llama.cpp servers have /tokenize at the root
            root = self.base_url[: -len("/v1")]
            req = urllib.request.Request(root + "/tokenize", data=json.dumps({"content": text}).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                return len(json.loads(resp.read())["tokens"])
        except Exception:  # noqa: BLE001 - servers without /tokenize: estimate
            return max(1, len(text) // 4)

    def info(self) -> dict[str, Any]:
        return {"backend": "openai", "url": self.base_url, "model": self.model_id}
