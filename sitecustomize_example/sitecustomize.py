"""Log every OpenAI and Anthropic call of every Python process in this image, via llmlog.

Copy this file into site-packages (or any folder on PYTHONPATH) of an image or
platform where you own ``sitecustomize.py``; if one exists already, paste the
block below into it. Python imports it at every interpreter start.

It never stops your application: if llmlog is missing, broken or misconfigured,
one line goes to stderr and the app runs without LLM logging. Set
``STRICT = True`` (or ``LLMLOG_STRICT=1``) to exit with status 78 instead.
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
        sys.stderr.write(
            "llmlog: not activated, the application runs without LLM logging: "
            f"cannot import llmlog ({type(exc).__name__}: {exc})\n"
        )
        strict = os.environ.get("LLMLOG_STRICT", "").strip().lower()
        if STRICT or strict not in ("", "0", "false", "no", "off"):
            os._exit(78)
        return
    activate(strict=STRICT, **LLMLOG_SETTINGS)


_start_llmlog()
# --- end of llmlog start-up -----------------------------------------------------
