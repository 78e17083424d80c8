"""Taskyard's tests.

`make run` in this checkout writes ``var/dev.env``, which every process started here reads
(``workers/stackfile.py``). The tests must not reach that stack, running or stopped, so before
anything loads the settings they point ``TASKYARD_VAR_DIR`` at an empty directory of their own;
a test that needs a var directory sets its own.
"""

import atexit
import os
import shutil
import tempfile

_VAR_DIR = tempfile.mkdtemp(prefix="taskyard-tests-var-")
os.environ["TASKYARD_VAR_DIR"] = _VAR_DIR
atexit.register(shutil.rmtree, _VAR_DIR, ignore_errors=True)
