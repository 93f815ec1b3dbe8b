"""diagnose's trace of host finders to the .pth files that planted them, on the files real editable
installs leave (no build: the environment's files as written by setuptools, hatchling with editables,
scikit-build-core and meson-python; their names and lines as measured in the cells of issue 18)."""

from __future__ import annotations

from pathlib import Path

from isolation_harness.evidence import RunFacts
from isolation_harness.userenv import UserEnv, trace


def _env(site: Path, files: dict[str, str]) -> UserEnv:
    site.mkdir(parents=True)
    for name, text in files.items():
        (site / name).write_text(text)
    pth = {str(site / n): t.splitlines() for n, t in files.items() if n.endswith(".pth")}
    return UserEnv("python", "3.11.7", "26.3", str(site), "/nowhere", pth)


def _facts(*finders: str) -> RunFacts:
    return RunFacts(0, False, 1.0, None, 3, foreign_finders=finders)


def test_each_real_editable_finder_is_traced_to_its_pth(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    env = _env(
        site,
        {
            # setuptools: the .pth imports the finder's own module
            "__editable__.setuptools-75.8.0.pth": "import __editable___setuptools_75_8_0_finder; "
            "__editable___setuptools_75_8_0_finder.install()\n",
            "__editable___setuptools_75_8_0_finder.py": "class _EditableFinder: ...\n",
            # hatchling dev-mode-exact: the .pth imports a module that installs editables' finder
            "_editable_impl_devlib.pth": "import _editable_impl_devlib\n",
            "_editable_impl_devlib.py": "from editables.redirector import RedirectingFinder as F\nF.install()\n",
            # flit: a folder only
            "flit_core.pth": "/home/u/src/flit_core\n",
        },
    )
    finders = (
        f"__editable___setuptools_75_8_0_finder._EditableFinder ({site}/__editable___setuptools_75_8_0_finder.py)",
        f"editables.redirector.RedirectingFinder ({site}/editables/redirector.py)",
        f"other.Finder ({site}/other.py)",
    )
    assert trace(_facts(*finders), env) == [
        f"{finders[0]}: installed by {site}/__editable__.setuptools-75.8.0.pth",
        f"{finders[1]}: installed by {site}/_editable_impl_devlib.pth (through _editable_impl_devlib)",
        f"{finders[2]}: origin not found in any .pth file",
    ]
