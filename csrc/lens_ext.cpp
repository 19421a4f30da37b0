// atlas_kernel._lens_ext: CPython binding of the Lens kernels (plain C API, no
// pybind11: no build dependency and ~100 ns of argument handling per call).
//
// The Python side (atlas_kernel/lens/ops.py) hands over C-contiguous float32 buffers
// (buffer protocol) for the CPU kernels and raw device pointers (ints) plus a stream
// handle for the CUDA kernels. Compute runs with the GIL released.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <new>
#include <string>

#include "lens_kernels.h"
#include "threadpool.h"

#ifdef ATLAS_WITH_CUDA
#include "cuda/lens_cuda.h"
#endif

#ifndef ATLAS_CUDA_NOTE
#define ATLAS_CUDA_NOTE "CUDA kernels not compiled"
#endif
#ifndef ATLAS_CUDA_ARCHS
#define ATLAS_CUDA_ARCHS ""
#endif

using namespace atlas_lens;

namespace {

const char* const kPackedName = "atlas_lens.PackedLens";

// RAII view of a C-contiguous float32 buffer.
class FBuf {
 public:
  FBuf() { std::memset(&view_, 0, sizeof view_); }
  ~FBuf() {
    if (held_) PyBuffer_Release(&view_);
  }
  bool get(PyObject* obj, const char* name, bool writable = false) {
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &view_, flags) != 0) {
      PyErr_Clear();
      PyErr_Format(PyExc_TypeError, "%s must be a C-contiguous%s float32 buffer", name,
                   writable ? " writable" : "");
      return false;
    }
    held_ = true;
    const char* f = view_.format ? view_.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') ++f;
    if (view_.itemsize != 4 || std::strcmp(f, "f") != 0) {
      PyErr_Format(PyExc_TypeError, "%s must have dtype float32", name);
      return false;
    }
    return true;
  }
  float* data() const { return static_cast<float*>(view_.buf); }
  Py_ssize_t size() const { return view_.len / 4; }
  int ndim() const { return view_.ndim; }
  Py_ssize_t shape(int i) const { return view_.shape ? view_.shape[i] : size(); }

 private:
  Py_buffer view_;
  bool held_ = false;
};

bool check_size(const FBuf& b, Py_ssize_t n, const char* name) {
  if (b.size() != n) {
    PyErr_Format(PyExc_ValueError, "%s has %zd elements, expected %zd", name, b.size(), n);
    return false;
  }
  return true;
}

bool matrix_dims(const FBuf& b, const char* name, Py_ssize_t* rows, Py_ssize_t* cols) {
  if (b.ndim() != 2) {
    PyErr_Format(PyExc_ValueError, "%s must be 2-D, got %d-D", name, b.ndim());
    return false;
  }
  *rows = b.shape(0);
  *cols = b.shape(1);
  return true;
}

void packed_destructor(PyObject* cap) {
  delete static_cast<PackedLens*>(PyCapsule_GetPointer(cap, kPackedName));
}

PackedLens* get_packed(PyObject* cap) {
  return static_cast<PackedLens*>(PyCapsule_GetPointer(cap, kPackedName));
}

// Runs fn with the GIL released, turning C++ exceptions into Python ones.
template <class F>
PyObject* run_nogil(F&& fn) {
  const char* err = nullptr;
  Py_BEGIN_ALLOW_THREADS try {
    fn();
  } catch (const std::bad_alloc&) {
    err = "out of memory";
  } catch (...) {
    err = "unexpected C++ exception";
  }
  Py_END_ALLOW_THREADS if (err) {
    PyErr_SetString(std::strcmp(err, "out of memory") == 0 ? PyExc_MemoryError
                                                            : PyExc_RuntimeError,
                    err);
    return nullptr;
  }
  Py_RETURN_NONE;
}

// Reads the six weight arrays into buffers and checks their shapes.
struct WeightBufs {
  FBuf W1, b1, W2, b2, w3;
  Py_ssize_t D = 0, H1 = 0, H2 = 0;
  bool get(PyObject* oW1, PyObject* ob1, PyObject* oW2, PyObject* ob2, PyObject* ow3) {
    if (!W1.get(oW1, "W1") || !b1.get(ob1, "b1") || !W2.get(oW2, "W2") ||
        !b2.get(ob2, "b2") || !w3.get(ow3, "w3"))
      return false;
    Py_ssize_t h2r = 0, h1c = 0;
    if (!matrix_dims(W1, "W1", &H1, &D) || !matrix_dims(W2, "W2", &h2r, &h1c)) return false;
    H2 = h2r;
    if (h1c != H1) {
      PyErr_SetString(PyExc_ValueError, "W2 must have shape (H2, H1)");
      return false;
    }
    if (D < 1 || H1 < 1 || H2 < 1) {
      PyErr_SetString(PyExc_ValueError, "lens dimensions must be >= 1");
      return false;
    }
    return check_size(b1, H1, "b1") && check_size(b2, H2, "b2") && check_size(w3, H2, "w3");
  }
};

// ------------------------------------------------------------------ CPU functions
PyObject* py_prepare(PyObject*, PyObject* args) {
  PyObject *oW1, *ob1, *oW2, *ob2, *ow3;
  float b3;
  if (!PyArg_ParseTuple(args, "OOOOOf:prepare", &oW1, &ob1, &oW2, &ob2, &ow3, &b3))
    return nullptr;
  WeightBufs w;
  if (!w.get(oW1, ob1, oW2, ob2, ow3)) return nullptr;
  PackedLens* P = new (std::nothrow) PackedLens();
  if (!P) return PyErr_NoMemory();
  PyObject* ok = run_nogil([&] {
    prepare_lens(*P, w.D, w.H1, w.H2, w.W1.data(), w.b1.data(), w.W2.data(), w.b2.data(),
                 w.w3.data(), b3);
  });
  if (!ok) {
    delete P;
    return nullptr;
  }
  Py_DECREF(ok);
  PyObject* cap = PyCapsule_New(P, kPackedName, packed_destructor);
  if (!cap) delete P;
  return cap;
}

PyObject* py_energy(PyObject*, PyObject* args) {
  PyObject *cap, *ox, *oe;
  if (!PyArg_ParseTuple(args, "OOO:energy", &cap, &ox, &oe)) return nullptr;
  PackedLens* P = get_packed(cap);
  if (!P) return nullptr;
  FBuf x, e;
  Py_ssize_t N, D;
  if (!x.get(ox, "x") || !e.get(oe, "out", true) || !matrix_dims(x, "x", &N, &D))
    return nullptr;
  if (D != P->D) return PyErr_Format(PyExc_ValueError, "x has D=%zd, lens has D=%lld", D,
                                     static_cast<long long>(P->D));
  if (!check_size(e, N, "out")) return nullptr;
  const KernelTable& K = kernels();
  return run_nogil([&] { K.energy(*P, x.data(), N, e.data()); });
}

PyObject* py_energy_grad(PyObject*, PyObject* args) {
  PyObject *cap, *ox, *oe, *og;
  if (!PyArg_ParseTuple(args, "OOOO:energy_grad", &cap, &ox, &oe, &og)) return nullptr;
  PackedLens* P = get_packed(cap);
  if (!P) return nullptr;
  FBuf x, e, g;
  Py_ssize_t N, D;
  if (!x.get(ox, "x") || !e.get(oe, "energies", true) || !g.get(og, "grads", true) ||
      !matrix_dims(x, "x", &N, &D))
    return nullptr;
  if (D != P->D) return PyErr_Format(PyExc_ValueError, "x has D=%zd, lens has D=%lld", D,
                                     static_cast<long long>(P->D));
  if (!check_size(e, N, "energies") || !check_size(g, N * D, "grads")) return nullptr;
  const KernelTable& K = kernels();
  return run_nogil([&] {
    ensure_backward(*P);
    K.energy_grad(*P, x.data(), N, e.data(), g.data());
  });
}

PyObject* py_landscape(PyObject*, PyObject* args) {
  PyObject *cap, *oc, *oa, *ob, *os, *ot, *oout;
  if (!PyArg_ParseTuple(args, "OOOOOOO:landscape", &cap, &oc, &oa, &ob, &os, &ot, &oout))
    return nullptr;
  PackedLens* P = get_packed(cap);
  if (!P) return nullptr;
  FBuf c, a, b, s, t, out;
  if (!c.get(oc, "center") || !a.get(oa, "a") || !b.get(ob, "b") || !s.get(os, "s") ||
      !t.get(ot, "t") || !out.get(oout, "out", true))
    return nullptr;
  if (!check_size(c, P->D, "center") || !check_size(a, P->D, "a") ||
      !check_size(b, P->D, "b") || !check_size(out, s.size() * t.size(), "out"))
    return nullptr;
  const KernelTable& K = kernels();
  return run_nogil([&] {
    K.landscape(*P, c.data(), a.data(), b.data(), s.data(), s.size(), t.data(), t.size(),
                out.data());
  });
}

PyObject* py_pairwise_cosine(PyObject*, PyObject* args) {
  PyObject *ox, *oout;
  if (!PyArg_ParseTuple(args, "OO:pairwise_cosine", &ox, &oout)) return nullptr;
  FBuf x, out;
  Py_ssize_t N, D;
  if (!x.get(ox, "x") || !out.get(oout, "out", true) || !matrix_dims(x, "x", &N, &D))
    return nullptr;
  if (!check_size(out, N * N, "out")) return nullptr;
  const KernelTable& K = kernels();
  return run_nogil([&] { K.pairwise_cosine(x.data(), N, D, out.data()); });
}

PyObject* py_get_num_threads(PyObject*, PyObject*) { return PyLong_FromLong(get_num_threads()); }

PyObject* py_set_num_threads(PyObject*, PyObject* arg) {
  long n = PyLong_AsLong(arg);
  if (n == -1 && PyErr_Occurred()) return nullptr;
  Py_BEGIN_ALLOW_THREADS set_num_threads(static_cast<int>(n));
  Py_END_ALLOW_THREADS Py_RETURN_NONE;
}

PyObject* py_simd(PyObject*, PyObject*) { return PyUnicode_FromString(kernels().name); }

PyObject* py_set_simd(PyObject*, PyObject* arg) {
  const char* name = PyUnicode_AsUTF8(arg);
  if (!name) return nullptr;
  if (!select_kernels(name))
    return PyErr_Format(PyExc_ValueError,
                        "kernel build %R is not available (choose 'auto', 'baseline'%s)", arg,
#if defined(ATLAS_HAVE_AVX2_TU)
                        ", 'avx2'"
#else
                        ""
#endif
    );
  return PyUnicode_FromString(kernels().name);
}

PyObject* py_build_info(PyObject*, PyObject*) {
  const char* builds =
#if defined(ATLAS_HAVE_AVX2_TU)
      "baseline,avx2+fma";
#else
      "baseline";
#endif
#ifdef ATLAS_WITH_CUDA
  PyObject* cuda = Py_True;
#else
  PyObject* cuda = Py_False;
#endif
  return Py_BuildValue("{s:s,s:O,s:s,s:s,s:s}", "cpu_builds", builds, "cuda_compiled", cuda,
                       "cuda_note", ATLAS_CUDA_NOTE, "cuda_archs", ATLAS_CUDA_ARCHS,
                       "compiler", __VERSION__);
}

#ifdef ATLAS_WITH_CUDA
// ------------------------------------------------------------------ CUDA functions
const char* const kDevName = "atlas_lens.DeviceLens";

struct DeviceLens {
  atlas_lens_dev d;
  int device;
  void* mem;  // one allocation holding all weights
};

PyObject* cuda_error(int err, const char* what) {
  PyErr_Format(PyExc_RuntimeError, "CUDA error in %s: %s (code %d)", what,
               atlas_cuda_error_string(err), err);
  return nullptr;
}

void devlens_destructor(PyObject* cap) {
  auto* L = static_cast<DeviceLens*>(PyCapsule_GetPointer(cap, kDevName));
  if (!L) return;
  atlas_cuda_free(L->mem, L->device);  // errors at interpreter exit are ignored
  delete L;
}

template <class F>
PyObject* cuda_nogil(const char* what, F&& fn) {
  int err;
  Py_BEGIN_ALLOW_THREADS err = fn();
  Py_END_ALLOW_THREADS if (err != 0) return cuda_error(err, what);
  Py_RETURN_NONE;
}

void* as_ptr(unsigned long long v) { return reinterpret_cast<void*>(static_cast<uintptr_t>(v)); }

PyObject* py_cuda_device_count(PyObject*, PyObject*) {
  int n = 0;
  int err;
  Py_BEGIN_ALLOW_THREADS err = atlas_cuda_device_count(&n);
  Py_END_ALLOW_THREADS if (err != 0) return Py_BuildValue("(is)", 0, atlas_cuda_error_string(err));
  return Py_BuildValue("(iO)", n, Py_None);
}

PyObject* py_cuda_prepare(PyObject*, PyObject* args) {
  PyObject *oW1, *ob1, *oW2, *ob2, *ow3;
  float b3;
  int device;
  if (!PyArg_ParseTuple(args, "OOOOOfi:cuda_prepare", &oW1, &ob1, &oW2, &ob2, &ow3, &b3,
                        &device))
    return nullptr;
  WeightBufs w;
  if (!w.get(oW1, ob1, oW2, ob2, ow3)) return nullptr;
  const size_t n[5] = {static_cast<size_t>(w.H1 * w.D), static_cast<size_t>(w.H1),
                       static_cast<size_t>(w.H2 * w.H1), static_cast<size_t>(w.H2),
                       static_cast<size_t>(w.H2)};
  const float* src[5] = {w.W1.data(), w.b1.data(), w.W2.data(), w.b2.data(), w.w3.data()};
  size_t off[5], total = 0;
  for (int i = 0; i < 5; ++i) {
    off[i] = total;
    total += (n[i] + 63) / 64 * 64;  // keep every array 256-byte aligned
  }
  auto* L = new DeviceLens();
  L->device = device;
  L->mem = nullptr;
  int err;
  Py_BEGIN_ALLOW_THREADS err = atlas_cuda_malloc(&L->mem, total * sizeof(float), device);
  for (int i = 0; i < 5 && err == 0; ++i)
    err = atlas_cuda_memcpy_htod(static_cast<float*>(L->mem) + off[i], src[i],
                                 n[i] * sizeof(float), device);
  Py_END_ALLOW_THREADS if (err != 0) {
    if (L->mem) atlas_cuda_free(L->mem, device);
    delete L;
    return cuda_error(err, "cuda_prepare");
  }
  float* base = static_cast<float*>(L->mem);
  L->d.W1 = base + off[0];
  L->d.b1 = base + off[1];
  L->d.W2 = base + off[2];
  L->d.b2 = base + off[3];
  L->d.w3 = base + off[4];
  L->d.b3 = b3;
  L->d.D = static_cast<int>(w.D);
  L->d.H1 = static_cast<int>(w.H1);
  L->d.H2 = static_cast<int>(w.H2);
  PyObject* cap = PyCapsule_New(L, kDevName, devlens_destructor);
  if (!cap) {
    atlas_cuda_free(L->mem, device);
    delete L;
  }
  return cap;
}

DeviceLens* get_devlens(PyObject* cap) {
  return static_cast<DeviceLens*>(PyCapsule_GetPointer(cap, kDevName));
}

PyObject* py_cuda_energy(PyObject*, PyObject* args) {
  PyObject* cap;
  unsigned long long x, e, stream;
  long long N;
  if (!PyArg_ParseTuple(args, "OKLKK:cuda_energy", &cap, &x, &N, &e, &stream)) return nullptr;
  DeviceLens* L = get_devlens(cap);
  if (!L) return nullptr;
  return cuda_nogil("energy", [&] {
    return atlas_cuda_energy(&L->d, static_cast<const float*>(as_ptr(x)), N,
                             static_cast<float*>(as_ptr(e)), L->device, as_ptr(stream));
  });
}

PyObject* py_cuda_energy_grad(PyObject*, PyObject* args) {
  PyObject* cap;
  unsigned long long x, e, g, stream;
  long long N;
  if (!PyArg_ParseTuple(args, "OKLKKK:cuda_energy_grad", &cap, &x, &N, &e, &g, &stream))
    return nullptr;
  DeviceLens* L = get_devlens(cap);
  if (!L) return nullptr;
  return cuda_nogil("energy_grad", [&] {
    return atlas_cuda_energy_grad(&L->d, static_cast<const float*>(as_ptr(x)), N,
                                  static_cast<float*>(as_ptr(e)), static_cast<float*>(as_ptr(g)),
                                  L->device, as_ptr(stream));
  });
}

PyObject* py_cuda_landscape(PyObject*, PyObject* args) {
  PyObject *cap, *os, *ot;
  unsigned long long c, a, b, out, stream;
  if (!PyArg_ParseTuple(args, "OKKKOOKK:cuda_landscape", &cap, &c, &a, &b, &os, &ot, &out,
                        &stream))
    return nullptr;
  DeviceLens* L = get_devlens(cap);
  if (!L) return nullptr;
  FBuf s, t;
  if (!s.get(os, "s") || !t.get(ot, "t")) return nullptr;
  return cuda_nogil("landscape", [&] {
    return atlas_cuda_landscape(&L->d, static_cast<const float*>(as_ptr(c)),
                                static_cast<const float*>(as_ptr(a)),
                                static_cast<const float*>(as_ptr(b)), s.data(), s.size(),
                                t.data(), t.size(), static_cast<float*>(as_ptr(out)),
                                L->device, as_ptr(stream));
  });
}

PyObject* py_cuda_pairwise_cosine(PyObject*, PyObject* args) {
  unsigned long long x, out, stream;
  long long N;
  int D, device;
  if (!PyArg_ParseTuple(args, "KLiKiK:cuda_pairwise_cosine", &x, &N, &D, &out, &device, &stream))
    return nullptr;
  return cuda_nogil("pairwise_cosine", [&] {
    return atlas_cuda_pairwise_cosine(static_cast<const float*>(as_ptr(x)), N, D,
                                      static_cast<float*>(as_ptr(out)), device, as_ptr(stream));
  });
}

PyObject* py_cuda_malloc(PyObject*, PyObject* args) {
  unsigned long long nbytes;
  int device;
  if (!PyArg_ParseTuple(args, "Ki:cuda_malloc", &nbytes, &device)) return nullptr;
  void* p = nullptr;
  int err;
  Py_BEGIN_ALLOW_THREADS err = atlas_cuda_malloc(&p, nbytes, device);
  Py_END_ALLOW_THREADS if (err != 0) return cuda_error(err, "cuda_malloc");
  return PyLong_FromUnsignedLongLong(reinterpret_cast<uintptr_t>(p));
}

PyObject* py_cuda_free(PyObject*, PyObject* args) {
  unsigned long long p;
  int device;
  if (!PyArg_ParseTuple(args, "Ki:cuda_free", &p, &device)) return nullptr;
  return cuda_nogil("cuda_free", [&] { return atlas_cuda_free(as_ptr(p), device); });
}

PyObject* py_cuda_memcpy_htod(PyObject*, PyObject* args) {
  unsigned long long dst;
  PyObject* osrc;
  int device;
  if (!PyArg_ParseTuple(args, "KOi:cuda_memcpy_htod", &dst, &osrc, &device)) return nullptr;
  FBuf src;
  if (!src.get(osrc, "src")) return nullptr;
  return cuda_nogil("memcpy_htod", [&] {
    return atlas_cuda_memcpy_htod(as_ptr(dst), src.data(), src.size() * 4, device);
  });
}

PyObject* py_cuda_memcpy_dtoh(PyObject*, PyObject* args) {
  PyObject* odst;
  unsigned long long src;
  int device;
  if (!PyArg_ParseTuple(args, "OKi:cuda_memcpy_dtoh", &odst, &src, &device)) return nullptr;
  FBuf dst;
  if (!dst.get(odst, "dst", true)) return nullptr;
  return cuda_nogil("memcpy_dtoh", [&] {
    return atlas_cuda_memcpy_dtoh(dst.data(), as_ptr(src), dst.size() * 4, device);
  });
}

PyObject* py_cuda_pointer_device(PyObject*, PyObject* arg) {
  unsigned long long p = PyLong_AsUnsignedLongLong(arg);
  if (PyErr_Occurred()) return nullptr;
  int dev = -1;
  int err = atlas_cuda_pointer_device(as_ptr(p), &dev);
  if (err != 0) return cuda_error(err, "cuda_pointer_device");
  return PyLong_FromLong(dev);
}

PyObject* py_cuda_synchronize(PyObject*, PyObject* arg) {
  long dev = PyLong_AsLong(arg);
  if (dev == -1 && PyErr_Occurred()) return nullptr;
  return cuda_nogil("synchronize", [&] { return atlas_cuda_synchronize(static_cast<int>(dev)); });
}
#endif  // ATLAS_WITH_CUDA

PyMethodDef kMethods[] = {
    {"prepare", py_prepare, METH_VARARGS,
     "prepare(W1, b1, W2, b2, w3, b3) -> capsule with the packed CPU weights"},
    {"energy", py_energy, METH_VARARGS, "energy(packed, x[N,D], out[N])"},
    {"energy_grad", py_energy_grad, METH_VARARGS,
     "energy_grad(packed, x[N,D], energies[N], grads[N,D])"},
    {"landscape", py_landscape, METH_VARARGS,
     "landscape(packed, center[D], a[D], b[D], s[S], t[T], out[S,T])"},
    {"pairwise_cosine", py_pairwise_cosine, METH_VARARGS, "pairwise_cosine(x[N,D], out[N,N])"},
    {"get_num_threads", py_get_num_threads, METH_NOARGS, "threads used by the CPU kernels"},
    {"set_num_threads", py_set_num_threads, METH_O, "set_num_threads(n); n <= 0: default"},
    {"simd", py_simd, METH_NOARGS, "name of the active CPU kernel build"},
    {"set_simd", py_set_simd, METH_O, "set_simd('auto'|'baseline'|'avx2') -> active name"},
    {"build_info", py_build_info, METH_NOARGS, "what this extension was built with"},
#ifdef ATLAS_WITH_CUDA
    {"cuda_device_count", py_cuda_device_count, METH_NOARGS,
     "(count, error message or None)"},
    {"cuda_prepare", py_cuda_prepare, METH_VARARGS,
     "cuda_prepare(W1, b1, W2, b2, w3, b3, device) -> capsule with device weights"},
    {"cuda_energy", py_cuda_energy, METH_VARARGS, "cuda_energy(dev, x_ptr, N, e_ptr, stream)"},
    {"cuda_energy_grad", py_cuda_energy_grad, METH_VARARGS,
     "cuda_energy_grad(dev, x_ptr, N, e_ptr, g_ptr, stream)"},
    {"cuda_landscape", py_cuda_landscape, METH_VARARGS,
     "cuda_landscape(dev, c_ptr, a_ptr, b_ptr, s_host, t_host, out_ptr, stream)"},
    {"cuda_pairwise_cosine", py_cuda_pairwise_cosine, METH_VARARGS,
     "cuda_pairwise_cosine(x_ptr, N, D, out_ptr, device, stream)"},
    {"cuda_malloc", py_cuda_malloc, METH_VARARGS, "cuda_malloc(nbytes, device) -> ptr"},
    {"cuda_free", py_cuda_free, METH_VARARGS, "cuda_free(ptr, device)"},
    {"cuda_memcpy_htod", py_cuda_memcpy_htod, METH_VARARGS, "cuda_memcpy_htod(dst_ptr, src, device)"},
    {"cuda_memcpy_dtoh", py_cuda_memcpy_dtoh, METH_VARARGS, "cuda_memcpy_dtoh(dst, src_ptr, device)"},
    {"cuda_pointer_device", py_cuda_pointer_device, METH_O, "device of a pointer, -1 = host"},
    {"cuda_synchronize", py_cuda_synchronize, METH_O, "cuda_synchronize(device)"},
#endif
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_lens_ext",
                       "Compiled kernels of the Geometric Lens (see atlas_kernel.lens.ops).",
                       -1, kMethods};

}  // namespace

PyMODINIT_FUNC PyInit__lens_ext(void) { return PyModule_Create(&kModule); }
