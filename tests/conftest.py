"""Hypothesis writes nothing into the repository.

Hypothesis keeps a ``.hypothesis/`` folder in the working directory: its example database
(``settings.database``) and, even with ``database=None``, caches of the constants it finds in
the code under test and of Unicode tables. Here the database is switched off (profile
``lmcourse``) and the folder goes to a temporary directory that is deleted when the run ends.
``tests/test_hypothesis_storage.py`` checks both.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

HYPOTHESIS_HOME = tempfile.mkdtemp(prefix="lmcourse-hypothesis-")
atexit.register(shutil.rmtree, HYPOTHESIS_HOME, ignore_errors=True)
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = HYPOTHESIS_HOME  # read by Hypothesis, also in subprocesses
set_hypothesis_home_dir(HYPOTHESIS_HOME)  # in case Hypothesis already looked the folder up in this process

settings.register_profile("lmcourse", database=None)
settings.load_profile("lmcourse")
