"""Writing a benchmark's section of ``docs/benchmarks.md``."""

import re
from pathlib import Path

BENCHMARKS_DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def write_section(text, heading, path=BENCHMARKS_DOC):
    """Replace the ``heading`` section of ``path`` with ``text`` (which starts
    with that heading), leaving the other sections as they are; create the
    file if needed."""
    text = text.rstrip("\n") + "\n"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Benchmarks\n\n" + text)
        return
    content = path.read_text()
    pattern = re.compile(
        rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", flags=re.MULTILINE | re.DOTALL
    )
    match = pattern.search(content)
    if match:
        # Keep one blank line before a following section.
        tail = "\n" if match.end() < len(content) else ""
        content = content[: match.start()] + text + tail + content[match.end() :]
    else:
        content = content.rstrip("\n") + "\n\n" + text
    path.write_text(content)
