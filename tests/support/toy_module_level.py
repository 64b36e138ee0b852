"""instrument() at module level, as apps do, and children of a ``multiprocessing`` start
method making calls: ``python toy_module_level.py OUTPUT N METHOD``.

``spawn`` and ``forkserver`` children import this module again (as ``__mp_main__``), so
their ``instrument()`` runs before ``multiprocessing`` empties the child's finalizers
(and with ``TOY_CALL_AT_IMPORT=1`` so does a call, which starts the writer there).
"""

from __future__ import annotations

import multiprocessing
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import llmlog
from llmlog.instrumentors import _base
from support import toy_instrumentor, toy_sdk

llmlog.instrument(output=os.environ["TOY_OUTPUT"], redact="off")
_base.install(toy_instrumentor.PROVIDER)
if os.environ.get("TOY_CALL_AT_IMPORT") == "1":
    toy_sdk.Client().create(messages=[{"role": "user", "content": "at import"}], model="toy")


def work(n: int) -> None:
    client = toy_sdk.Client()
    for i in range(n):
        client.create(messages=[{"role": "user", "content": f"child {i}"}], model="toy")


if __name__ == "__main__":
    n, method = int(sys.argv[2]), sys.argv[3]
    context = multiprocessing.get_context(method)
    children = [context.Process(target=work, args=(n,)) for _ in range(2)]
    for process in children:
        process.start()
    for process in children:
        process.join()
        assert process.exitcode == 0, process.exitcode
