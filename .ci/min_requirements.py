"""Print the oldest versions pyproject.toml allows, as pins for pip.

The minimum-dependencies stage of ``.ci/run`` installs exactly these, so the
lower bounds in ``pyproject.toml`` are the versions that stage tests: the
bounds are the one list, and this script only reads them. It covers the
package's dependencies and the extras named on the command line (``skorch``
by default), each of which must have a ``>=`` lower bound.

    python .ci/min_requirements.py [EXTRA ...] > min-requirements.txt
"""

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# name, optional [extras], then the version specifiers, e.g.
# "scikit-learn>=1.6,<1.10" or "dask[distributed]>=2025.1".
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def minimum_pins(requirements):
    """``name==lower`` for each requirement's ``>=`` bound."""
    pins = []
    for requirement in requirements:
        name, _, specifiers = REQUIREMENT.match(requirement).groups()
        bounds = [s.strip() for s in specifiers.split(",")]
        lower = [b[2:].strip() for b in bounds if b.startswith(">=")]
        if len(lower) != 1:
            sys.exit(f"{PYPROJECT.name}: {requirement!r} needs one '>=' lower bound")
        pins.append(f"{name}=={lower[0]}")
    return pins


def main():
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = sys.argv[1:] or ["skorch"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    print("\n".join(minimum_pins(requirements)))


if __name__ == "__main__":
    main()
