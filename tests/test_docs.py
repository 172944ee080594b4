"""The documentation builds with warnings as errors, and the gallery runs.

The build test copies ``docs/`` and ``examples/`` to a temporary directory
and builds there without executing the gallery (``-D plot_gallery=0``), so
that it neither writes into the source tree nor depends on an earlier build;
it takes well under a minute. (The benchmark plots, absent from the copy,
are replaced by a note, as before the benchmarks ran: see docs/conf.py.) The
documented full build, which executes the gallery, is

    python -m sphinx -W --keep-going -b html docs docs/_build/html

The example tests run each gallery script of ``EXAMPLES`` as a program
(``runpy``), with matplotlib's Agg backend and one torch thread, as the
gallery build does (``docs/conf.py``). They are marked ``slow``: about a
minute in all; deselect them with ``-m "not slow"``.

The generated sections of the pages (the benchmark tables) must be what
``benchmarks/report.py`` makes from the raw results in ``benchmarks/results/``
today, so that a stale table fails.

The recipes of the how-to pages run in ``tests/test_docs_recipes.py``.
"""

import importlib
import importlib.util
import os
import re
import runpy
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Every gallery script, with its budget in CPU seconds. Each should use well
# under 30 s of one core; the budget is meant to catch an example that became
# much slower, not to time it. CPU time, not wall time, so that a machine
# shared with other work does not fail the test.
EXAMPLES = {
    "plot_lambda_path.py": 30,
    "plot_zero_pattern.py": 30,
    "plot_grid_search_sparsity.py": 30,
    "plot_feature_selection.py": 30,
    "plot_mackey_glass.py": 30,
    "plot_skorch_cnn_digits.py": 30,
    # Two CV paths and a GridSearchCV of 19 fits, for the timing it shows.
    "plot_how_sparse.py": 45,
}
# Optional dependencies an example imports: without them its test is skipped.
EXAMPLE_REQUIREMENTS = {"plot_skorch_cnn_digits.py": ["skorch"]}

# The generated sections of the docs pages, which benchmarks/report.py fills
# between ``<!-- begin: NAME -->`` and ``<!-- end: NAME -->``.
GENERATED_SECTIONS = {
    "benchmarks.md": [
        "speed",
        "profile",
        "accuracy",
        "robustness",
        "robustness_paper",
        "defaults",
        "streaming",
        "onnx_size",
        "sparse_predict",
        "path_cv",
    ],
    "user_guide.md": ["defaults"],
}

DOC_BUILD_REQUIREMENTS = ["sphinx", "numpydoc", "sphinx_gallery", "myst_parser"]


def _imports(module):
    try:
        importlib.import_module(module)
    except Exception:  # conf.py leaves the section out on any failure
        return False
    return True


def test_docs_build_without_warnings(tmp_path):
    for name in DOC_BUILD_REQUIREMENTS:
        pytest.importorskip(name)
    source = tmp_path / "docs"
    shutil.copytree(
        DOCS,
        source,
        ignore=shutil.ignore_patterns("_build", "auto_examples", "gen_modules"),
    )
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    for page in ROOT.glob("*.md"):  # in case a page includes the README
        shutil.copy(page, tmp_path)
    output = tmp_path / "html"

    started = time.perf_counter()
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-D",
            "plot_gallery=0",
            "-d",
            str(tmp_path / "doctrees"),
            str(source),
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    seconds = time.perf_counter() - started
    assert build.returncode == 0, (
        f"the docs build failed or warned (exit code {build.returncode}, "
        f"{seconds:.0f} s):\n{build.stderr[-6000:]}"
    )

    # Every public name has its API page, and every page of docs/ is built.
    public = [
        "sk_sparse_l1.SparseL1Regressor",
        "sk_sparse_l1.SparseL1Classifier",
        "sk_sparse_l1.SparseL1RegressorCV",
        "sk_sparse_l1.SparseL1ClassifierCV",
        "sk_sparse_l1.l1_path",
        "sk_sparse_l1.plotting.SparsityPathDisplay",
        "sk_sparse_l1.plotting.LayerSparsityDisplay",
        "sk_sparse_l1.sparse.to_csr",
        "sk_sparse_l1.sparse.stored_bytes",
        "sk_sparse_l1.sparse.sparse_forward",
        "sk_sparse_l1.sparse.prefer_sparse",
        "sk_sparse_l1.datasets.make_mackey_glass",
        "sk_sparse_l1.datasets.mackey_glass_series",
    ]
    if _imports("sk_sparse_l1.skorch"):
        public += [
            "sk_sparse_l1.skorch.ProximalL1",
            "sk_sparse_l1.skorch.TargetSparsity",
        ]
    if _imports("sk_sparse_l1.onnx"):
        public += [
            "sk_sparse_l1.onnx.to_sparse_initializers",
            "sk_sparse_l1.onnx.output_activation",
        ]
    missing = [
        name for name in public if not (output / f"gen_modules/{name}.html").is_file()
    ]
    assert not missing, f"no API page for {missing}"
    pages = [p.stem for p in DOCS.glob("*") if p.suffix in {".md", ".rst"}]
    unbuilt = [page for page in pages if not (output / f"{page}.html").is_file()]
    assert not unbuilt, f"pages of docs/ not built: {unbuilt}"
    scripts = {p.name for p in (ROOT / "examples").glob("plot_*.py")}
    assert scripts == set(EXAMPLES), "EXAMPLES must list every gallery script"
    for example in EXAMPLES:
        page = output / "auto_examples" / f"{Path(example).stem}.html"
        assert page.is_file(), f"no gallery page for {example}"


def _between_markers(page, name):
    """What lies between the page's markers of section ``name``."""
    text = (DOCS / page).read_text()
    begin, end = f"<!-- begin: {name} -->", f"<!-- end: {name} -->"
    assert text.count(begin) == 1 and text.count(end) == 1, (page, name)
    assert text.index(begin) < text.index(end), (page, name)
    return text.split(begin)[1].split(end)[0]


@pytest.fixture(scope="module")
def report():
    """``benchmarks/report.py``, imported as its own directory's script."""
    for name in ("pandas", "matplotlib", "threadpoolctl"):
        pytest.importorskip(name)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT / "benchmarks"))
        spec = importlib.util.spec_from_file_location(
            "benchmarks_report", ROOT / "benchmarks" / "report.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module


@pytest.mark.parametrize(
    "page, name",
    [(page, name) for page, names in GENERATED_SECTIONS.items() for name in names],
)
def test_generated_section_matches_the_results(report, page, name):
    # Each generated section is what benchmarks/report.py makes from the raw
    # CSVs in benchmarks/results/ now: a table left stale after new results
    # (or edited by hand) fails here. The plots are not compared.
    made = report.section(name)
    assert made is not None, f"no results for the section {name!r} of {page}"
    text, fig, _ = made
    if fig is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    on_page = _between_markers(page, name)
    assert on_page == f"\n{text.strip()}\n", (
        f"the {name!r} section of docs/{page} is not what benchmarks/report.py "
        f"makes from benchmarks/results/; regenerate it with "
        f"`python benchmarks/report.py --docs docs/benchmarks.md docs/user_guide.md`"
    )


def test_generated_sections_are_listed(report):
    # The sections marked in the pages of docs/ are those listed above, and
    # report.py makes each of them.
    for page in DOCS.glob("*.md"):
        marked = re.findall(r"<!-- begin: (\w+) -->", page.read_text())
        assert marked == GENERATED_SECTIONS.get(page.name, []), page.name
    listed = {name for names in GENERATED_SECTIONS.values() for name in names}
    assert listed <= set(report.SECTIONS), listed - set(report.SECTIONS)


@pytest.fixture
def gallery_like_run(monkeypatch, tmp_path):
    """Run as the gallery build does: Agg backend, one torch thread; in a
    temporary working directory; figures closed afterwards."""
    matplotlib = pytest.importorskip("matplotlib")
    import torch

    matplotlib.use("Agg")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.chdir(tmp_path)
    yield
    torch.set_num_threads(threads)
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.slow
@pytest.mark.parametrize("example", list(EXAMPLES))
def test_example_runs(example, gallery_like_run):
    for module in EXAMPLE_REQUIREMENTS.get(example, []):
        pytest.importorskip(module)
    import matplotlib.pyplot as plt

    started = time.process_time()
    runpy.run_path(str(ROOT / "examples" / example), run_name="__main__")
    cpu_seconds = time.process_time() - started

    assert plt.get_fignums(), f"{example} made no figure"
    assert cpu_seconds < EXAMPLES[example], (
        f"{example} used {cpu_seconds:.0f} s of CPU, more than its budget of "
        f"{EXAMPLES[example]} s: make it cheaper or raise the budget knowingly"
    )
