from __future__ import annotations

from pathlib import Path
from typing import Any

from isolation_harness.evidence import analyze_run, error_signature

HOST = "/cell/venv/lib/python3.11/site-packages"
ROOTS = {"host": [HOST, "/cell/editable/b", "/cell/home"], "frontend": [f"{HOST}/pip"], "project": "/cell/src/b"}
HOOK = f"{HOST}/pip/_vendor/pyproject_hooks/_in_process/_in_process.py"


def report(pid: int, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "probe",
        "pid": pid,
        "argv": [HOOK, "build_wheel", "/tmp/x"],
        "meta_path": [
            {"name": "__main__._BackendPathFinder", "file": HOOK},
            {"name": "_frozen_importlib_external.PathFinder", "file": None},
        ],
        "path_hooks": [],
        "sys_path": [
            "/tmp/pip-build-env/site",
            "/usr/lib/python3.11",
            f"{HOST}/pip/_vendor/pyproject_hooks/_in_process",
        ],
        "backend": {"spec": "b", "file": "/tmp/pip-install-1/b/b.py", "backend_path": ["/tmp/pip-install-1/b"]},
    }
    base.update(extra)
    return base


def run(*reports: dict[str, Any], code: int = 0) -> dict[str, Any]:
    return {"exit_code": code, "timed_out": False, "duration": 1.0, "reports": list(reports), "log": "none.log"}


def test_clean_build_has_no_influence(tmp_path: Path) -> None:
    facts = analyze_run(run(report(10)), ROOTS, tmp_path)
    assert facts.influence == ()
    assert facts.backend_in_backend_path is True
    assert facts.hook_processes == 1


def test_host_finder_and_canary_are_influence(tmp_path: Path) -> None:
    finder = {"name": "_editable_impl_b._EditableFinder", "file": f"{HOST}/_editable_impl_b.py"}
    hooked = report(11)
    hooked["meta_path"] = [finder, *hooked["meta_path"]]
    canary_in_build = {"kind": "canary", "pid": 11, "step": "1:editable-finder"}
    canary_in_frontend = {"kind": "canary", "pid": 5, "step": "1:editable-finder"}
    facts = analyze_run(run(hooked, canary_in_build, canary_in_frontend), ROOTS, tmp_path)
    assert facts.foreign_finders == (f"_editable_impl_b._EditableFinder ({HOST}/_editable_impl_b.py)",)
    assert facts.host_code_ran == ("1:editable-finder (pid 11)",)
    assert len(facts.influence) == 2


def test_backend_from_the_wrong_place(tmp_path: Path) -> None:
    wrong = report(12, backend={"spec": "b", "file": "/cell/editable/b/b.py", "backend_path": ["/tmp/pip-install-1/b"]})
    facts = analyze_run(run(wrong, code=1), ROOTS, tmp_path)
    assert facts.backend_in_backend_path is False
    assert "not from its backend-path" in facts.influence[0]


def test_host_site_packages_on_sys_path(tmp_path: Path) -> None:
    leaky = report(13)
    leaky["sys_path"] = [*leaky["sys_path"], HOST]
    facts = analyze_run(run(leaky), ROOTS, tmp_path)
    assert facts.foreign_paths == (HOST,)


def test_non_hook_processes_do_not_count(tmp_path: Path) -> None:
    other = report(14, argv=["/cell/venv/bin/pip", "install"])
    other["sys_path"] = [HOST]
    facts = analyze_run(run(other), ROOTS, tmp_path)
    assert facts.hook_processes == 0
    assert facts.influence == ()


def test_error_signature() -> None:
    last = "pip._vendor.pyproject_hooks._impl.BackendInvalid: Backend was not loaded from backend-path"
    assert error_signature(f"Traceback\n  File x\n{last}\n") == last
    assert error_signature("ERROR: Exception:\nfoo\nERROR: Cannot set --home and --prefix together\n") == (
        "ERROR: Cannot set --home and --prefix together"
    )
    assert error_signature("all good\n") is None
    # pip 21 follows the build-dependency failure with errors about the project itself
    pip21 = (
        "  ERROR: Command errored out with exit status 1:\n  ERROR: Cannot set --home and --prefix together\n"
        "ERROR: Could not find a version that satisfies the requirement demo (unavailable)\n"
        "ERROR: No matching distribution found for demo (unavailable)\n"
    )
    assert error_signature(pip21) == "ERROR: Cannot set --home and --prefix together"


def test_uv_hook_processes_are_seen_by_the_backend_they_import(tmp_path: Path) -> None:
    # uv runs each hook as `python -c <script>`; the probe falls back to the declared backend.
    backend = {"spec": "b", "file": "/cell/tmp/uv/b/b.py", "backend_path": ["/cell/tmp/uv/b"], "loaded": True}
    uv_hook = report(20, argv=["-c"], backend=backend)
    host_start = report(21, argv=["-c"], backend={"spec": "b", "loaded": False})
    facts = analyze_run(run(uv_hook, host_start), ROOTS, tmp_path)
    assert facts.hook_processes == 1
    assert facts.backend_in_backend_path is True


def test_a_pth_of_folders_is_processed_not_run(tmp_path: Path) -> None:
    roots = {**ROOTS, "code_steps": ["1:pth"]}
    canaries = [{"kind": "canary", "pid": 10, "step": "0:pth"}, {"kind": "canary", "pid": 10, "step": "1:pth"}]
    facts = analyze_run(run(report(10), *canaries), roots, tmp_path)
    assert facts.host_code_ran == ("1:pth (pid 10)",)
    assert facts.host_pth_processed == ("0:pth (pid 10)",)
    assert facts.influence == ("host code ran in the build: contamination step 1:pth (pid 10)",)


def test_a_linked_backend_inside_backend_path_counts_as_loaded_from_it(tmp_path: Path) -> None:
    # seed 000: backend-path holds a link to the module root of a backend developed elsewhere.
    (tmp_path / "dev" / "devback").mkdir(parents=True)
    (tmp_path / "dev" / "devback" / "__init__.py").write_text("")
    (tmp_path / "app" / ".local-packages").mkdir(parents=True)
    (tmp_path / "app" / ".local-packages" / "devback").symlink_to(tmp_path / "dev" / "devback")
    linked = str(tmp_path / "app" / ".local-packages" / "devback" / "__init__.py")
    backend = {"spec": "devback", "file": linked, "backend_path": [str(tmp_path / "app" / ".local-packages")]}
    facts = analyze_run(run(report(30, backend=backend)), ROOTS, tmp_path)
    assert facts.backend_in_backend_path is True
    assert facts.influence == ()


def test_error_inside_pips_box_is_the_signature() -> None:
    log = (
        "  error: backend-unavailable\n\n  Cannot import 'b'\n  ╰─> ModuleNotFoundError: No module named 'setuptools'\n"
    )
    assert error_signature(log) == "ModuleNotFoundError: No module named 'setuptools'"


def test_a_build_requirement_shadowed_by_the_frontends_own_file(tmp_path: Path) -> None:
    """pip 19-21.0 ran pep517's _in_process.py from pip/_vendor/pep517, which was then sys.path[0]: a
    build requirement named colorlog was pep517's colorlog.py (pip #8887). pip's own modules, the hook
    script, its sibling `compat` (no other copy: the hook's own import) and the build environment's
    modules are not counted."""
    vendored = f"{HOST}/pip/_vendor/pep517"
    built = "/tmp/pip-build-env/overlay/colorlog/__init__.py"
    modules = {
        "__main__": f"{vendored}/_in_process.py",
        "compat": f"{vendored}/compat.py",
        "colorlog": f"{vendored}/colorlog.py",
        "pip._vendor.six": f"{HOST}/pip/_vendor/six.py",
        "setuptools": "/tmp/pip-build-env/overlay/lib/python3.11/site-packages/setuptools/__init__.py",
    }
    copies = {"colorlog": [built]}
    old = report(14, argv=[f"{vendored}/_in_process.py", "build_wheel"], modules=modules, other_copies=copies)
    facts = analyze_run(run(old), ROOTS, tmp_path)
    shadow = f"colorlog ({vendored}/colorlog.py, hiding {built})"
    assert facts.shadowed_by_frontend == (shadow,)
    assert facts.influence == (f"the build imported the frontend's own file under another name: {shadow}",)
    fixed = report(15, modules={**modules, "colorlog": built}, other_copies={"colorlog": [f"{vendored}/colorlog.py"]})
    assert analyze_run(run(fixed), ROOTS, tmp_path).influence == ()
    control = report(16, modules={k: v for k, v in modules.items() if k != "colorlog"})
    assert analyze_run(run(control), ROOTS, tmp_path).influence == ()
