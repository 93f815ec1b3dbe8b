"""A canary carried by host-side contamination: a marker file each time host code runs.

The harness puts ``import _ih_canary; _ih_canary.mark("...")`` in front of every .pth line it plants in
the host environment. Markers land in ``$ISOLATION_PROBE_DIR``; a marker whose pid is that of a build
hook process proves host code ran inside the build. Standard library only; must run on Python 3.8.
"""

from __future__ import annotations

import json
import os
import sys


def mark(step):  # type: (str) -> None
    target = os.environ.get("ISOLATION_PROBE_DIR")
    if not target:
        return
    try:
        os.makedirs(target, exist_ok=True)
        name = os.path.join(target, "canary-%d-%d.json" % (os.getpid(), abs(hash(step)) % 10**8))
        with open(name, "w") as fh:
            json.dump({"kind": "canary", "pid": os.getpid(), "step": step, "argv": list(sys.argv)}, fh)
    except OSError:
        pass
