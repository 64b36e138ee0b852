"""Log every OpenAI and Anthropic call of every Python process in this image, via llmlog.

Copy this file into site-packages (or any folder on PYTHONPATH) of an image or
platform where you own ``sitecustomize.py``; if one exists already, paste the
block below into it. Python imports it at every interpreter start.

It never stops your application: if llmlog is missing, broken or misconfigured,
one line goes to stderr (once per process tree) and the app runs without LLM
logging. Set ``STRICT = True`` (or ``LLMLOG_STRICT=1``) to exit with status 78
instead. An interpreter without an OpenAI or Anthropic SDK has nothing to log: it
is never stopped, and says nothing.
"""

import os
import sys

# --- llmlog start-up (keep this block self-contained) ---------------------------
# Explicit settings: they win over LLMLOG_* environment variables. The names are
# those of `llmlog-run --help` without the dashes (`--redact-deny` -> redact_deny).
# A relative "output" is resolved against each process's working directory at its
# start; use an absolute path if processes of the app start in different directories.
LLMLOG_SETTINGS = {
    "output": "llm_logs/llmlog.jsonl",
    "redact": "pii",
    "capture": "full",
    # "service": "checkout-api",
    # "disabled_providers": "anthropic",
}
STRICT = False


def _start_llmlog() -> None:
    # LLMLOG_ENABLED=0 still switches logging off without rebuilding the image. (llmlog
    # never sets it itself: a failure of the llmlog.pth line on a bad LLMLOG_* value does
    # not stop the settings below, which win over that value, from applying.)
    if os.environ.get("LLMLOG_ENABLED", "").strip().lower() in ("0", "false", "no", "off"):
        return
    try:
        from llmlog._activate import activate
    except Exception as exc:
        _cannot_import_llmlog(exc)
        return
    # strict=None, not False: LLMLOG_STRICT (checked, a bad value refused) decides then.
    activate(strict=True if STRICT else None, **LLMLOG_SETTINGS)


def _cannot_import_llmlog(exc: Exception) -> None:
    # Only an interpreter with an SDK has calls that go unlogged: a wrapper without one
    # (a supervisor, `poetry run`) stays silent and runs; the app it starts reports for
    # itself. Said once per process tree (children inherit _LLMLOG_REPORTED).
    import importlib.util
    import zlib

    try:
        has_sdk = any(importlib.util.find_spec(m) for m in ("openai", "anthropic"))
    except Exception:  # cannot tell: assume the worst
        has_sdk = True
    if not has_sdk:
        return
    problem = f"cannot import llmlog in {sys.executable} ({type(exc).__name__}: {exc})"
    strict = os.environ.get("LLMLOG_STRICT", "").strip().lower()
    if STRICT or strict not in ("", "0", "false", "no", "off"):
        sys.stderr.write(f"llmlog: activation failed and LLMLOG_STRICT=1, stopping: {problem}\n")
        sys.stderr.flush()
        os._exit(78)
    key = format(zlib.crc32(problem.encode("utf-8", "surrogatepass")), "08x")
    said = os.environ.get("_LLMLOG_REPORTED", "")
    if key not in said.split(","):
        os.environ["_LLMLOG_REPORTED"] = f"{said},{key}".strip(",")
        sys.stderr.write(f"llmlog: LLM calls made in this interpreter are not logged: {problem}\n")


_start_llmlog()
# --- end of llmlog start-up -----------------------------------------------------
