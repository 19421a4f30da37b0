"""Build of the compiled Lens kernels, ``atlas_kernel._lens_ext``.

All package metadata lives in pyproject.toml; this file only defines the extension.

    pip install -e . --no-deps --no-build-isolation     # editable, for development
    python setup.py build_ext --inplace                  # in-place build

CPU kernels (always built, C++17):
  * csrc/lens_kernels_base.cpp  - compiler-default ISA (SSE2 on x86-64): runs anywhere.
  * csrc/lens_kernels_avx2.cpp  - same source with -mavx2 -mfma (x86-64 only); chosen
    at run time after a CPUID check, so the wheel never needs -march=native.
  Common flags: -O3 -ffp-contract=fast -fno-trapping-math -fno-math-errno (no
  -ffast-math: NaN/Inf semantics are kept). Threads: a small std::thread pool.

CUDA kernels (csrc/cuda/*.cu), decided ONLY by the toolchain, never by probing a GPU:
  ATLAS_BUILD_CUDA=auto (default)  build if nvcc is found; if nvcc fails, warn and
                                   build CPU-only.
  ATLAS_BUILD_CUDA=1               require nvcc; any failure stops the build.
  ATLAS_BUILD_CUDA=0               skip CUDA.
  nvcc is looked up in $CUDA_HOME/bin, $CUDA_PATH/bin, /usr/local/cuda/bin, then PATH.
  ATLAS_CUDA_ARCH_LIST             default "80;90"; accepts "80;90", "8.0 9.0+PTX",
                                   "sm_80,sm_90a". PTX is embedded for the archs marked
                                   +PTX, or for the newest one when none is marked.
  The .cu file is compiled by nvcc into an object that is linked into the extension
  with libcudart_static (-lcudart_static -lrt -ldl -lpthread, symbols kept private via
  --exclude-libs), so the module imports on machines without a GPU or driver.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CSRC = Path("csrc")
EXT_NAME = "atlas_kernel._lens_ext"
DEFAULT_CUDA_ARCHS = "80;90"

IS_X86 = platform.machine().lower() in {"x86_64", "amd64", "i386", "i686"}

CPU_SOURCES = [
    "lens_ext.cpp",
    "lens_cpu.cpp",
    "threadpool.cpp",
    "lens_kernels_base.cpp",
] + (["lens_kernels_avx2.cpp"] if IS_X86 else [])
CUDA_SOURCES = ["cuda/lens_cuda.cu"]
HEADERS = [
    "lens_kernels.h",
    "lens_kernels_impl.inc",
    "threadpool.h",
    "cuda/lens_cuda.h",
    "cuda/lens_cuda_kernels.cuh",
]

CXX_FLAGS = [
    "-std=c++17",
    "-O3",
    "-ffp-contract=fast",   # let a*b+c become FMA in the AVX2 build
    "-fno-trapping-math",   # lets GCC if-convert clamps so exp/SiLU loops vectorise
    "-fno-math-errno",
    "-fvisibility=hidden",
    "-Wall",
    "-Wno-psabi",
    "-pthread",
]
AVX2_FLAGS = ["-mavx2", "-mfma"]


def _log(msg: str) -> None:
    print(f"[atlas_kernel build] {msg}", flush=True)


def find_nvcc() -> str | None:
    """nvcc from CUDA_HOME / CUDA_PATH / /usr/local/cuda, else PATH (no GPU probing)."""
    for env in ("CUDA_HOME", "CUDA_PATH"):
        home = os.environ.get(env)
        if home:
            cand = Path(home) / "bin" / "nvcc"
            if cand.is_file():
                return str(cand)
    cand = Path("/usr/local/cuda/bin/nvcc")
    if cand.is_file():
        return str(cand)
    return shutil.which("nvcc")


def cuda_home_for(nvcc: str) -> Path:
    return Path(os.path.realpath(nvcc)).parent.parent


def cuda_lib_dirs(home: Path) -> list[str]:
    cands = [home / "lib64", home / "lib", home / "targets" / f"{platform.machine()}-linux" / "lib"]
    return [str(p) for p in cands if (p / "libcudart_static.a").is_file()]


def parse_arch_list(spec: str) -> tuple[list[str], list[str]]:
    """'80;90' / '8.0 9.0+PTX' / 'sm_90a' -> (sm archs, archs that also get PTX)."""
    archs: list[str] = []
    ptx: list[str] = []
    for tok in re.split(r"[;,\s]+", spec.strip()):
        if not tok:
            continue
        t = tok.lower().replace("sm_", "").replace("compute_", "")
        with_ptx = t.endswith("+ptx")
        t = t.removesuffix("+ptx")
        if "." in t:
            major, minor = t.split(".", 1)
            t = major + minor
        if not re.fullmatch(r"\d{2,3}[af]?", t):
            raise ValueError(f"ATLAS_CUDA_ARCH_LIST: cannot read architecture {tok!r}")
        if t not in archs:
            archs.append(t)
        if with_ptx and t not in ptx:
            ptx.append(t)
    if not archs:
        raise ValueError("ATLAS_CUDA_ARCH_LIST is empty")
    if not ptx:
        ptx = [max(archs, key=lambda a: int(re.match(r"\d+", a).group()))]
    return archs, ptx


def gencode_flags(archs: list[str], ptx: list[str]) -> list[str]:
    flags = [f"-gencode=arch=compute_{a},code=sm_{a}" for a in archs]
    flags += [f"-gencode=arch=compute_{a},code=compute_{a}" for a in ptx]
    return flags


class BuildExt(build_ext):
    """build_ext with per-file ISA flags and an nvcc step for csrc/cuda/*.cu."""

    def build_extensions(self) -> None:
        if self.compiler.compiler_type != "unix":
            raise RuntimeError("atlas_kernel._lens_ext needs GCC or Clang (vector extensions)")
        self._add_per_file_flags()
        for ext in self.extensions:
            self._configure_cuda(ext)
            self._force_if_config_changed(ext)
        t0 = time.perf_counter()
        super().build_extensions()
        _log(f"extension built in {time.perf_counter() - t0:.1f} s")

    def _force_if_config_changed(self, ext: Extension) -> None:
        # setuptools only compares file times, so switching ATLAS_BUILD_CUDA or the arch
        # list would silently keep the old binary. Rebuild when the configuration moves.
        config = repr((sorted(ext.define_macros or []), ext.extra_objects, ext.libraries, CXX_FLAGS, AVX2_FLAGS))
        stamp = Path(self.build_temp) / f"{ext.name}.config"
        if not stamp.is_file() or stamp.read_text() != config:
            self.force = True
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(config)

    def _add_per_file_flags(self) -> None:
        # distutils compiles every source with the same flags; the AVX2 translation
        # unit alone gets -mavx2 -mfma so nothing else can emit AVX2 instructions.
        orig = self.compiler._compile

        def _compile(obj, src, ext, cc_args, extra_postargs, pp_opts):
            if src.endswith("_avx2.cpp"):
                extra_postargs = list(extra_postargs) + AVX2_FLAGS
            return orig(obj, src, ext, cc_args, extra_postargs, pp_opts)

        self.compiler._compile = _compile

    def _configure_cuda(self, ext: Extension) -> None:
        mode = os.environ.get("ATLAS_BUILD_CUDA", "auto").strip().lower() or "auto"
        if mode not in {"0", "1", "auto"}:
            raise RuntimeError(f"ATLAS_BUILD_CUDA must be 0, 1 or auto, got {mode!r}")
        if mode == "0":
            self._cpu_only(ext, "not compiled: ATLAS_BUILD_CUDA=0 at build time")
            return
        nvcc = find_nvcc()
        if nvcc is None:
            where = "no nvcc at build time (looked in CUDA_HOME, CUDA_PATH, /usr/local/cuda, PATH)"
            if mode == "1":
                raise RuntimeError(f"ATLAS_BUILD_CUDA=1 but {where}")
            self._cpu_only(ext, f"not compiled: {where}")
            return
        try:
            archs, ptx = parse_arch_list(os.environ.get("ATLAS_CUDA_ARCH_LIST", DEFAULT_CUDA_ARCHS))
            home = cuda_home_for(nvcc)
            lib_dirs = cuda_lib_dirs(home)
            if not lib_dirs:
                raise RuntimeError(f"libcudart_static.a not found under {home}")
            objects = [self._nvcc(nvcc, src, archs, ptx) for src in CUDA_SOURCES]
        except Exception as exc:  # noqa: BLE001 - any nvcc problem
            if mode == "1":
                raise
            _log(f"WARNING: CUDA build failed, building CPU-only: {exc}")
            self._cpu_only(ext, f"not compiled: CUDA build failed at build time ({type(exc).__name__})")
            return
        arch_note = ",".join(f"sm_{a}" for a in archs) + " + PTX " + ",".join(f"compute_{a}" for a in ptx)
        ext.extra_objects = list(ext.extra_objects or []) + objects
        ext.library_dirs = list(ext.library_dirs or []) + lib_dirs
        ext.libraries = list(ext.libraries or []) + ["cudart_static", "rt", "dl", "pthread"]
        # Keep cudart's symbols private: with torch's libcudart.so loaded globally they
        # could otherwise interpose on (or be interposed by) our static copy.
        ext.extra_link_args = list(ext.extra_link_args or []) + ["-Wl,--exclude-libs,ALL"]
        ext.define_macros = list(ext.define_macros or []) + [
            ("ATLAS_WITH_CUDA", "1"),
            ("ATLAS_CUDA_NOTE", f'"compiled with {Path(nvcc).name} from {home}"'),
            ("ATLAS_CUDA_ARCHS", f'"{arch_note}"'),
        ]
        _log(f"CUDA kernels: {arch_note}")

    def _cpu_only(self, ext: Extension, note: str) -> None:
        _log(f"CUDA kernels {note}")
        ext.define_macros = list(ext.define_macros or []) + [("ATLAS_CUDA_NOTE", f'"{note}"')]

    def _nvcc(self, nvcc: str, src: str, archs: list[str], ptx: list[str]) -> str:
        src_path = CSRC / src
        out_dir = Path(self.build_temp) / "cuda"
        out_dir.mkdir(parents=True, exist_ok=True)
        obj = out_dir / (Path(src).stem + ".o")
        cmd = [
            nvcc, "-c", str(src_path), "-o", str(obj),
            "-O3", "-std=c++17",
            "-Xcompiler", "-fPIC", "-Xcompiler", "-fvisibility=hidden",
            "-I", str(CSRC), "-I", str(CSRC / "cuda"),
            *gencode_flags(archs, ptx),
        ]
        ccbin = os.environ.get("ATLAS_NVCC_CCBIN")
        if ccbin:
            cmd += ["-ccbin", ccbin]
        deps = [src_path] + [CSRC / h for h in HEADERS]
        stamp = obj.with_suffix(".cmd")
        cmd_text = " ".join(cmd)
        up_to_date = (
            not self.force
            and obj.is_file()
            and stamp.is_file()
            and stamp.read_text() == cmd_text
            and all(obj.stat().st_mtime >= d.stat().st_mtime for d in deps)
        )
        if up_to_date:
            _log(f"nvcc: {src} up to date")
            return str(obj)
        _log("nvcc: " + cmd_text)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout + proc.stderr)
            raise RuntimeError(f"nvcc failed on {src} (exit {proc.returncode})")
        stamp.write_text(cmd_text)
        _log(f"nvcc: {src} compiled in {time.perf_counter() - t0:.1f} s")
        return str(obj)


lens_ext = Extension(
    EXT_NAME,
    sources=[str(CSRC / s) for s in CPU_SOURCES],
    depends=[str(CSRC / h) for h in HEADERS],
    include_dirs=[str(CSRC)],
    define_macros=[("ATLAS_HAVE_AVX2_TU", "1")] if IS_X86 else [],
    extra_compile_args=CXX_FLAGS,
    extra_link_args=["-pthread"],
    language="c++",
)

setup(ext_modules=[lens_ext], cmdclass={"build_ext": BuildExt})
