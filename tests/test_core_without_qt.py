"""The core (``gymnast_pose`` minus ``gui/``) and the command-line commands never import Qt.

Each check runs in a fresh interpreter, so modules other tests already loaded cannot hide an import: it imports
every core module (found by walking the package, so a new module is covered without editing this test) and lists
which Qt modules ended up in ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

QT_MODULE_PREFIXES = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6")
# the Qt modules loaded so far, as an expression for the snippets below
QT_LOADED = f"sorted(n for n in sys.modules if n.split('.')[0] in {QT_MODULE_PREFIXES!r})"

IMPORT_CORE = f"""
import importlib, json, pkgutil, sys
import gymnast_pose
names = [m.name for m in pkgutil.walk_packages(gymnast_pose.__path__, "gymnast_pose.")
         if not m.name.startswith("gymnast_pose.gui")]
for name in names:
    importlib.import_module(name)
print(json.dumps({{"imported": names, "qt": {QT_LOADED}}}))
"""


def run_isolated(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_core_modules_import_no_qt():
    result = run_isolated(IMPORT_CORE)
    # The walk must really have found the core, or an empty list would pass vacuously.
    for expected in ("gymnast_pose.codec", "gymnast_pose.estimator", "gymnast_pose.compare", "gymnast_pose.cli",
                     "gymnast_pose.commands.analyze", "gymnast_pose.commands.gui"):
        assert expected in result["imported"]
    assert result["qt"] == []


def test_cli_help_loads_no_qt():
    code = f"""
import contextlib, io, json, sys
from gymnast_pose.cli import main
for argv in (["--help"], ["analyze", "--help"], ["compare", "--help"], ["pose", "--help"]):
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit:
            pass
print(json.dumps({{"qt": {QT_LOADED}}}))
"""
    assert run_isolated(code)["qt"] == []
