"""An exec that fails, with a stream open: ``python toy_exec_fails.py OUTPUT``.

``os.execvp`` tries each PATH entry in turn; a program found in none raises
``FileNotFoundError`` and the app goes on: then reads its stream to the end. So it does
after ``os.execv`` of an executable text file without ``#!`` (ENOEXEC) and of a script
whose ``#!`` interpreter is missing, a directory or ends in a CR (ENOENT, EACCES), all
made beside OUTPUT. Also checks
that ``os.execv`` and ``os.execve`` still pickle and copy as themselves.
"""

from __future__ import annotations

import contextlib
import copy
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import llmlog
from llmlog.instrumentors import _base
from support import toy_instrumentor, toy_sdk

llmlog.instrument(output=sys.argv[1], redact="off")
_base.install(toy_instrumentor.PROVIDER)
stream = toy_sdk.Client().create(
    messages=[{"role": "user", "content": "open"}], model="toy", stream=True
)
next(stream)
assert pickle.loads(pickle.dumps(os.execv)) is os.execv
assert copy.deepcopy(os.execve) is os.execve and copy.copy(os.execv) is os.execv
with contextlib.suppress(FileNotFoundError):
    os.execvp("no-such-program-llmlog-test", ["no-such-program-llmlog-test"])
for name, text in (
    ("no-shebang", "echo hi\n"),
    ("no-shebang-utf8", "echo h\u00e9\n"),
    ("bad-shebang", "#!/no/such/interpreter\n"),
    ("crlf-shebang", "#!/bin/sh\r\necho hi\r\n"),  # the kernel looks for "/bin/sh\r"
    ("directory-shebang", "#!/tmp\n"),
):
    script = os.path.join(os.path.dirname(sys.argv[1]), name)
    with open(script, "w") as file:
        file.write(text)
    os.chmod(script, 0o755)
    with contextlib.suppress(OSError):
        os.execv(script, [script])
list(stream)
