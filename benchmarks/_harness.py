"""What every benchmark shares: the machine's description, equal threads for
every contestant, the machine's load during a fit, raw CSV rows, and the
generated sections of the docs pages."""

import contextlib
import csv
import importlib.metadata
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch
from threadpoolctl import threadpool_limits

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("torch", "numpy", "scipy", "scikit-learn", "skorch", "lassonet")
PACKAGES += ("skl2onnx", "onnxruntime", "sk_sparse_l1")


def n_cores():
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def machine():
    """CPU model, core count, Python and package versions."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    info = dict(cpu=cpu, cores=n_cores(), python=platform.python_version())
    for name in PACKAGES:
        try:
            info[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


@contextlib.contextmanager
def threads(n):
    """Run the block with ``n`` threads in numpy's BLAS and OpenMP pools (and
    any other pool threadpoolctl finds) and in torch's intra-op pool;
    restore both afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(previous)


def _busy_cpu_seconds():
    """CPU seconds all processes spent on this machine since boot (not idle,
    not waiting for I/O), from /proc/stat; None where it does not exist."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    busy = user + nice + system + irq + softirq + steal
    return busy / os.sysconf("SC_CLK_TCK")


class Timer:
    """Wall time of a block, this process's CPU time, and the CPU time the
    other processes (and the hypervisor's steal time) used meanwhile, in
    cores: 1.0 = one core kept busy.

    /proc/stat counts in clock ticks (10 ms): the load of a block shorter
    than about a second is coarse.
    """

    def __enter__(self):
        self._busy = _busy_cpu_seconds()
        self._cpu = time.process_time()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = time.process_time() - self._cpu
        busy = _busy_cpu_seconds()
        other = None if busy is None else busy - self._busy - self.cpu_seconds
        self.other_load = None if other is None else max(other, 0.0) / self.seconds
        self.loadavg_1min = os.getloadavg()[0]

    def record(self):
        """The measurements, for a CSV row."""
        return dict(
            seconds=round(self.seconds, 6),
            cpu_seconds=round(self.cpu_seconds, 6),
            other_load=None if self.other_load is None else round(self.other_load, 3),
            loadavg_1min=round(self.loadavg_1min, 2),
        )


class Results:
    """Raw results of one run: ``results/<name>.csv``, one row per
    measurement, written as they come, and ``results/<name>.json``: the
    machine, the command that produced them, when it ran and how long."""

    def __init__(self, name):
        RESULTS.mkdir(exist_ok=True)
        self.path = RESULTS / f"{name}.csv"
        self._file = self._writer = None
        script = f"benchmarks/{Path(sys.argv[0]).name}"  # from the repo root
        self._meta = dict(
            machine=machine(), command=" ".join(["python", script, *sys.argv[1:]]),
            started=time.strftime("%Y-%m-%d %H:%M:%S"),
        )  # fmt: skip
        self._start = time.perf_counter()

    def __enter__(self):
        return self

    def add(self, **row):
        if self._writer is None:
            self._file = self.path.open("w", newline="")
            self._writer = csv.DictWriter(self._file, fieldnames=list(row))
            self._writer.writeheader()
        self._writer.writerow(row)
        self._file.flush()

    def __exit__(self, *exc_info):
        if self._file is not None:
            self._file.close()
        self._meta["minutes"] = round((time.perf_counter() - self._start) / 60, 2)
        self._meta["completed"] = exc_info[0] is None
        self.path.with_suffix(".json").write_text(json.dumps(self._meta, indent=2))


def load_meta(name):
    """The ``results/<name>.json`` written next to the CSV."""
    return json.loads((RESULTS / f"{name}.json").read_text())


def write_section(page, name, text):
    """Replace the text between ``<!-- begin: name -->`` and
    ``<!-- end: name -->`` in the markdown file ``page``: people write the
    page, scripts write what lies between the markers. Return whether the
    page had them (a page without either is left alone)."""
    page = Path(page)
    content = page.read_text()
    begin, end = f"<!-- begin: {name} -->", f"<!-- end: {name} -->"
    if begin not in content and end not in content:
        return False
    if content.count(begin) != 1 or content.count(end) != 1:
        raise ValueError(f"{page} needs exactly one {begin} and one {end}.")
    head, tail = content.split(begin)[0], content.split(end)[1]
    page.write_text(f"{head}{begin}\n{text.strip()}\n{end}{tail}")
    return True


def matrix_products(X, widths, batch_size, dtype):
    """A function running the matrix products of one epoch of training an
    MLP of ``widths`` on the rows of ``X`` in minibatches of ``batch_size``:
    per minibatch, ``addmm`` forward through every layer, ``mm`` for every
    weight gradient and every back-propagated error, nothing else. The floor
    a training step cannot go below, in torch's ``dtype``."""
    g = torch.Generator().manual_seed(0)
    pairs = list(zip(widths[:-1], widths[1:]))
    Ws = [torch.randn(b, a, dtype=dtype, generator=g) / a**0.5 for a, b in pairs]
    bs = [torch.zeros(b, dtype=dtype) for _, b in pairs]
    X = torch.as_tensor(X, dtype=dtype)

    def epoch():
        for start in range(0, X.shape[0], batch_size):
            hs = [X[start : start + batch_size]]
            for W, b in zip(Ws, bs):
                hs.append(torch.addmm(b, hs[-1], W.T))
            delta = hs[-1]
            for j in range(len(Ws) - 1, -1, -1):
                torch.mm(delta.T, hs[j])
                if j > 0:
                    delta = torch.mm(delta, Ws[j])

    return epoch
