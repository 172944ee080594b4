"""pytest configuration shared by ``tests/`` and the package's doctests."""

import importlib.util


def _missing(name):
    try:
        return importlib.util.find_spec(name) is None
    except (ImportError, ValueError):
        return True


# ``--doctest-modules`` imports every module of the package, and
# ``sk_sparse_l1.onnx`` (its doctest runs onnxruntime) raises an ImportError
# without the optional dependencies of the "onnx" extra.
collect_ignore = []
if any(_missing(name) for name in ("skl2onnx", "onnx", "onnxruntime")):
    collect_ignore.append("sk_sparse_l1/onnx.py")
