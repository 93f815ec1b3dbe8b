#!/bin/sh
# Make an image's base site-packages exactly the pinned set of containers/base-packages.txt, in every
# recipe: empty it (an official image's own pip, setuptools and wheel, whichever versions it was built
# with), install the pinned wheels with the pinned pip run from its own wheel, check the result, and
# give the folder to the cell user (scenarios such as system-site-packages install into the base).
# Usage: base-site.sh PYTHON WHEEL_DIR OWNER REQUIREMENT...
set -eu
py="$1"; wheels="$2"; owner="$3"; shift 3
purelib="$("$py" -I -S -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
bindir="$(dirname "$py")"
rm -rf "$purelib"/*
rm -f "$bindir"/pip "$bindir"/pip3 "$bindir"/pip3.* "$bindir"/easy_install* "$bindir"/wheel
set -- "$@"
pip_wheel="$(ls "$wheels"/pip-*.whl)"
# The official images install with PYTHONDONTWRITEBYTECODE=1 and --no-compile: no .pyc in the base.
PYTHONDONTWRITEBYTECODE=1 "$py" -I "$pip_wheel/pip" install --no-index --find-links "$wheels" --no-deps \
  --no-compile --no-cache-dir --disable-pip-version-check --no-warn-script-location -q "$@"
want="$(printf '%s\n' "$@" | tr 'A-Z_' 'a-z-' | sort | tr '\n' ' ')"
have="$("$py" -I -c "import importlib.metadata as m; print(' '.join(sorted(d.metadata['Name'].lower().replace('_', '-') + '==' + d.version for d in m.distributions())) + ' ')")"
if [ "$want" != "$have" ]; then echo "base site-packages: want '$want', have '$have'" >&2; exit 1; fi
if [ -n "$owner" ]; then chown -R "$owner" "$purelib"; fi
