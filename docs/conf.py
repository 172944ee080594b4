"""Sphinx configuration of the sk_sparse_l1 documentation.

Build (the gallery examples are executed; cached in docs/auto_examples):

    python -m sphinx -W --keep-going -b html docs docs/_build/html

Quick build without executing the gallery (what tests/test_docs.py runs):

    python -m sphinx -W --keep-going -b html -D plot_gallery=0 docs docs/_build/html

Nothing is downloaded at build time: intersphinx is not enabled, so names in
the example code link to this site's API pages only. The gallery examples run
inside the Sphinx process, with one torch thread (see below).

The benchmarks page shows plots that benchmarks/report.py writes to
benchmarks/results/; until a plot exists, its image is replaced by a note
(see _missing_images), so that the page builds before the benchmarks ran.
"""

import importlib
import re
import warnings
from pathlib import Path

import torch

import sk_sparse_l1

DOCS = Path(__file__).resolve().parent

# -- Project -----------------------------------------------------------------

project = "sk_sparse_l1"
author = "sk_sparse_l1 developers"
copyright = "2024, sk_sparse_l1 developers"
release = sk_sparse_l1.__version__
version = ".".join(release.split(".")[:2])

# -- Extensions --------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
html_static_path = ["_static"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "**.ipynb_checkpoints"]

# Markdown pages are written by several people: any top-level page that
# index.rst does not list is inserted before the gallery's entry by
# _complete_toctree below, so that the -W build does not fail on a page
# added without its toctree entry.

# -- API reference -----------------------------------------------------------

autosummary_generate = True
autodoc_default_options = {"member-order": "alphabetical"}
autodoc_typehints = "none"  # the numpydoc sections state the types

# The class pages list their methods themselves (_templates/autosummary/).
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

# sk_sparse_l1.skorch and sk_sparse_l1.onnx need optional dependencies
# (skorch; skl2onnx and onnx). The reference of each is built only when it
# imports; otherwise api.rst's section between its "<name>-api" markers is
# replaced by a note, and its autosummary entries are mocked and their stubs
# excluded, so that the missing module costs no warning.
OPTIONAL_MODULES = {
    "skorch": ("sk_sparse_l1.skorch", "sk_sparse_l1[skorch]"),
    "onnx": ("sk_sparse_l1.onnx", "sk_sparse_l1[onnx]"),
}
OPTIONAL_IMPORT_ERRORS = {}
autosummary_mock_imports = []
for _key, (_module, _extra) in OPTIONAL_MODULES.items():
    try:
        importlib.import_module(_module)
    except Exception as exc:  # any failure, not only a missing dependency
        OPTIONAL_IMPORT_ERRORS[_key] = f"{type(exc).__name__}: {exc}"
        warnings.warn(
            f"{_module} is left out of the API reference: "
            f"{OPTIONAL_IMPORT_ERRORS[_key]}",
            stacklevel=1,
        )
        autosummary_mock_imports.append(_module)
        exclude_patterns.append(f"gen_modules/{_module}.*")

# -- Markdown pages (myst-parser) --------------------------------------------

myst_heading_anchors = 3

# -- Example gallery (sphinx-gallery) ----------------------------------------

# The gallery's networks are small: with several torch threads, thread
# start-up and synchronisation cost more than they save, badly so on a shared
# machine. The examples themselves leave the thread count alone.
torch.set_num_threads(1)

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    # "Examples using this object" on each API page.
    "doc_module": ("sk_sparse_l1",),
    "backreferences_dir": "gen_modules/backreferences",
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "show_memory": False,
    # Each example page states its own running time; no sg_execution_times.rst
    # in the source tree.
    "write_computation_times": False,
    "min_reported_time": 1,
}

# -- HTML --------------------------------------------------------------------

html_theme = "alabaster"
html_title = f"sk_sparse_l1 {release}"
html_theme_options = {
    "description": "ℓ1-sparse neural networks for scikit-learn",
    "fixed_sidebar": True,
    "page_width": "1100px",
    "sidebar_width": "240px",
}
html_css_files = ["custom.css"]
html_show_sourcelink = False


# -- Hooks -------------------------------------------------------------------


def _drop_optional_api(app, docname, source):
    """Replace the section of api.rst of an optional module that does not
    import by a note saying why."""
    if docname != "api":
        return
    for key, error in OPTIONAL_IMPORT_ERRORS.items():
        module, extra = OPTIONAL_MODULES[key]
        start, end = f".. {key}-api-start", f".. {key}-api-end"
        text = source[0]
        head, _, rest = text.partition(start)
        _, _, tail = rest.partition(end)
        note = (
            ".. note::\n\n"
            f"   ``{module}`` could not be imported when this page was built\n"
            f'   (``pip install "{extra}"``):\n\n'
            f"   ``{error}``\n"
        )
        source[0] = head + note + tail


# ![alt](path) in a Markdown page, where path is relative to the page.
_MARKDOWN_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


def _missing_images(app, docname, source):
    """Replace the Markdown images whose file does not exist by a note: the
    benchmark plots exist only once their scripts and benchmarks/report.py
    have run, and a missing image would fail the -W build."""

    def replace(match):
        alt, target = match.groups()
        if "://" in target:
            return match.group(0)
        path = (DOCS / docname).parent / target
        if path.is_file():
            return match.group(0)
        return f"*(Plot not generated yet: {alt}. It is written to `{target}`.)*"

    if (DOCS / f"{docname}.md").is_file():
        source[0] = _MARKDOWN_IMAGE.sub(replace, source[0])


def _page_names():
    """Top-level pages of the source tree (not generated ones)."""
    return {
        path.stem
        for suffix in source_suffix
        for path in DOCS.glob(f"*{suffix}")
        if not path.name.startswith("_")
    }


def _complete_toctree(app, docname, source):
    """Insert any top-level page that no toctree entry of index.rst names
    before the gallery's entry."""
    if docname != root_doc:
        return
    existing = _page_names()
    lines = source[0].splitlines(keepends=True)
    entries = {line.strip() for line in lines}
    anchor = "   auto_examples/index\n"
    if anchor not in lines:
        raise ValueError(f"{root_doc}: no toctree entry {anchor.strip()!r}")
    at = lines.index(anchor)
    extra = [f"   {page}\n" for page in sorted(existing - entries - {root_doc})]
    source[0] = "".join(lines[:at] + extra + lines[at:])


def _skip_sklearn_methods(app, what, name, obj, skip, options):
    """Document the methods this package implements, not the ones inherited
    from scikit-learn (score, get_params, set_params, set_*_request,
    get_metadata_routing): their docstrings refer to labels of scikit-learn's
    own documentation, which -W would report as unresolved without
    intersphinx. _templates/autosummary/class.rst names them instead."""
    if what == "class" and callable(obj):
        module = getattr(obj, "__module__", None) or ""
        if not module.startswith("sk_sparse_l1"):
            return True
    return None


def setup(app):
    app.connect("source-read", _drop_optional_api)
    app.connect("source-read", _complete_toctree)
    app.connect("source-read", _missing_images)
    app.connect("autodoc-skip-member", _skip_sklearn_methods)
