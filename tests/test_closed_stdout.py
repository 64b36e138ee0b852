"""An app that closes its stdout (a daemon, a CLI piping its output away) is still logged."""

from __future__ import annotations

import json
from pathlib import Path

from test_fork_signals import run_app


def test_records_are_written_after_the_app_closed_its_stdout(tmp_path: Path) -> None:
    """structlog asks sys.stdout whether it is a terminal as the writer imports it: with the
    app's stdout closed that import failed, the writer thread died with a traceback, every
    record was lost and the exit waited 5 s for them."""
    proc = run_app(
        """
        import json, sys
        import httpx2, openai, llmlog
        from llmlog._fake_openai import chat_completions

        def answer(request):
            reply = chat_completions(json.loads(request.content))
            return httpx2.Response(reply.status, json=dict(reply.body))

        llmlog.instrument(redact="secrets")
        sys.stdout.close()
        app = openai.OpenAI(
            api_key="sk-test", http_client=httpx2.Client(transport=httpx2.MockTransport(answer))
        )
        hello = [{"role": "user", "content": "hi"}]
        for _ in range(2):
            app.chat.completions.create(model="gpt-4o", messages=hello)
        """,
        tmp_path,
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    lines = (tmp_path / "llmlog.jsonl").read_text().splitlines()
    assert [json.loads(line)["status"] for line in lines] == ["ok", "ok"]
