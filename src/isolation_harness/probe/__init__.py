"""Code that runs inside the environment under test.

Everything in this folder except this file is standard-library only, runs on Python 3.8, and talks to
the harness through JSON files (the way pyproject-hooks' ``_in_process`` does): ``driver.py`` sets up
and runs one cell, ``_ih_probe.py`` reports from inside the build environment, ``_ih_canary.py`` marks
where host-side contamination code ran.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "driver.py"
# The driver and the siblings it imports: shipped together into every cell.
DRIVER_FILES = (
    *(DRIVER, HERE / "_driver_base.py", HERE / "_driver_steps.py"),
    *(HERE / "_driver_index.py", HERE / "_driver_project.py", HERE / "_index_server.py"),
)
PROBE_MODULE = HERE / "_ih_probe.py"
CANARY_MODULE = HERE / "_ih_canary.py"
