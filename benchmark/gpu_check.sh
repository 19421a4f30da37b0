#!/usr/bin/env bash
# One prepared run on a GPU machine (H100/H200, CUDA 13, no internet): build llama-cpp-python and
# our extension with CUDA, run the CUDA kernel tests, bench_kernels.py on the GPU, and one
# draft-model speed measurement with every layer offloaded. Everything it makes goes under $OUT.
#
#   OUT=/path/to/out  CARRY=.carry  bash benchmark/gpu_check.sh
#
# CARRY (a folder that travels with the tree) holds what the machine cannot download:
#   llama_cpp_python-0.3.36.tar.gz   the sdist (pip download --no-binary :all: --no-deps llama-cpp-python==0.3.36)
#   wheels/                          optional: wheels of pure-Python dependencies missing there
#                                    (diskcache, jinja2 and typing-extensions usually are there)
#   target.gguf, draft.gguf          optional: the models of the draft measurement (same vocabulary,
#                                    e.g. Qwen2.5-Coder-1.5B and -0.5B). The device tool carries at most
#                                    64 MiB in all, so the Qwen files (0.5 and 1.1 GB) cannot travel
#                                    with it; without them that step is skipped and says so.
# Each step writes its own log and the run goes on after a failed step; $OUT/summary.txt lists them.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:?set OUT to the folder that comes back}"
CARRY="${CARRY:-.carry}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"
step() {  # step NAME TIMEOUT_S CMD...: run, log to $OUT/NAME.log, record the exit code
  local name="$1" limit="$2"; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  echo "$name rc=$rc $((SECONDS - t0))s" | tee -a "$SUMMARY"
  return $rc
}

{ nvidia-smi; nvcc --version; python3 --version; } >"$OUT/machine.txt" 2>&1

# a venv on top of the image's Python (torch, numpy, cupy stay visible), our packages inside it
python3 -m venv --system-site-packages .venv-gpu
PY=.venv-gpu/bin/python
PIP=("$PY" -m pip --disable-pip-version-check -q --no-index)
[ -d "$CARRY/wheels" ] && PIP+=(--find-links "$CARRY/wheels")

# llama.cpp with CUDA for Hopper only (sm_90: one architecture builds in a few minutes on 16 cores)
export CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF \
-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF"
export CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)"
step build_llama_cpp 420 "${PIP[@]}" install --no-build-isolation "$CARRY/llama_cpp_python-0.3.36.tar.gz"

# our extension, CUDA required (sm_90a for Hopper)
ATLAS_BUILD_CUDA=1 ATLAS_CUDA_ARCH_LIST="90" step build_atlas 300 "${PIP[@]}" install --no-build-isolation --no-deps -e .

step backends 60 "$PY" -c "
from atlas_kernel.lens import ops; import llama_cpp, json
print(json.dumps({'lens_backends': ops.backends(), 'lens_cuda': str(ops.backend_info().get('cuda')),
                  'llama_gpu_offload': bool(llama_cpp.llama_supports_gpu_offload())}))"

step test_lens_cuda 300 "$PY" -m pytest -q -p no:cacheprovider tests/test_lens_ops_cuda.py
step bench_kernels 420 "$PY" benchmark/bench_kernels.py --quick --out "$OUT/kernels_cuda_run.json"
[ -f benchmark/results/kernels_cuda.json ] && cp benchmark/results/kernels_cuda.json "$OUT/"

if [ -f "$CARRY/target.gguf" ] && [ -f "$CARRY/draft.gguf" ]; then
  step bench_draft 420 "$PY" benchmark/bench_speed.py --only draft --target "$CARRY/target.gguf" \
    --draft "$CARRY/draft.gguf" --gpu --out "$OUT/speed_gpu.json"
else
  echo "bench_draft skipped: no $CARRY/target.gguf + $CARRY/draft.gguf (the models cannot travel with the device tool)" \
    | tee -a "$SUMMARY"
fi
cat "$SUMMARY"
