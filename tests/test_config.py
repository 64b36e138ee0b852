"""Settings: one table, read from the environment and keyword arguments."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from llmlog._config import DEFAULT_OUTPUT, Settings, env_name, settings_table

README = Path(__file__).resolve().parents[1] / "README.md"


class TestDefaults:
    def test_defaults_are_private_and_sane(self) -> None:
        """Without any variable: redaction pii, full capture, the default file."""
        s = Settings.from_env({})
        assert s.redact == "pii"
        assert s.capture == "full"
        assert s.output == DEFAULT_OUTPUT == "./llm_logs/llmlog.jsonl"
        assert s.enabled is False

    def test_every_required_variable_is_declared(self) -> None:
        """The variables the core issue names all exist, spelled exactly so."""
        names = {row[0] for row in settings_table()}
        required = {
            "LLMLOG_ENABLED",
            "LLMLOG_OUTPUT",
            "LLMLOG_MAX_BYTES",
            "LLMLOG_BACKUP_COUNT",
            "LLMLOG_RETENTION_DAYS",
            "LLMLOG_CAPTURE",
            "LLMLOG_MAX_FIELD_CHARS",
            "LLMLOG_SERVICE",
            "LLMLOG_QUEUE_SIZE",
            "LLMLOG_DISABLED_PROVIDERS",
            "LLMLOG_REDACT",
        }
        assert required <= names


class TestParsing:
    def test_environment_values_are_typed(self) -> None:
        """Integers, booleans, lists and JSON come out typed."""
        s = Settings.from_env(
            {
                "LLMLOG_MAX_BYTES": "1024",
                "LLMLOG_ENABLED": "yes",
                "LLMLOG_DISABLED_PROVIDERS": "openai, anthropic",
                "LLMLOG_REDACT_PATTERNS": '{"EMPLOYEE_ID": "EMP-[0-9]{6}"}',
                "LLMLOG_RETENTION_DAYS": "1.5",
            }
        )
        assert s.max_bytes == 1024
        assert s.enabled is True
        assert s.disabled_providers == ("openai", "anthropic")
        assert s.redact_patterns == {"EMPLOYEE_ID": "EMP-[0-9]{6}"}
        assert s.retention_days == 1.5

    def test_keyword_arguments_win_over_the_environment(self) -> None:
        """instrument(capture=...) beats LLMLOG_CAPTURE."""
        s = Settings.from_env({"LLMLOG_CAPTURE": "full"}, capture="metadata")
        assert s.capture == "metadata"

    @pytest.mark.parametrize(
        ("env", "fragment"),
        [
            ({"LLMLOG_CAPTURE": "everything"}, "LLMLOG_CAPTURE='everything'"),
            ({"LLMLOG_REDACT": "max"}, "one of off, secrets, pii, ner"),
            ({"LLMLOG_MAX_BYTES": "big"}, "LLMLOG_MAX_BYTES='big'"),
            ({"LLMLOG_MAX_BYTES": "-1"}, "non-negative"),
            ({"LLMLOG_QUEUE_SIZE": "0"}, "a whole number of at least 1"),
            ({"LLMLOG_FLUSH_TIMEOUT": "inf"}, "a number from 0 to 3600"),
            ({"LLMLOG_FLUSH_TIMEOUT": "1e300"}, "a number from 0 to 3600"),
            ({"LLMLOG_FLUSH_TIMEOUT": "nan"}, "a number from 0 to 3600"),
            ({"LLMLOG_RETENTION_DAYS": "inf"}, "a finite non-negative number"),
            ({"LLMLOG_OUTPUT": ""}, "stdout, stderr or a file path, not empty"),
            ({"LLMLOG_OUTPUT": " "}, "stdout, stderr or a file path, not empty"),
            ({"LLMLOG_SIGTERM": "ignore"}, "one of flush, default"),
            ({"LLMLOG_ENABLED": "maybe"}, "LLMLOG_ENABLED"),
            ({"LLMLOG_DISABLED_PROVIDERS": "openai,cohere"}, "openai, anthropic"),
            ({"LLMLOG_REDACT_PATTERNS": "[1, 2]"}, "JSON object"),
            ({"LLMLOG_REDACT_PATTERNS": '{"X": "("}'}, "valid regexes, but 'X' has '('"),
            ({"LLMLOG_MAX_BYTES": "\u0663"}, "a non-negative whole number"),  # Arabic-Indic 3
            ({"LLMLOG_MAX_BYTES": "1_000"}, "a non-negative whole number"),
            ({"LLMLOG_MAX_BYTES": "1.5"}, "a non-negative whole number"),
            ({"LLMLOG_RETENTION_DAYS": "1_0"}, "a finite non-negative number"),
            ({"LLMLOG_RETENTION_DAYS": "\uff11"}, "a finite non-negative number"),  # fullwidth 1
            ({"LLMLOG_STRICT": "2"}, "one of 1, 0, true, false, yes, no, on, off"),
        ],
    )
    def test_bad_values_name_variable_value_and_allowed(
        self, env: dict[str, str], fragment: str
    ) -> None:
        """A bad value is a ValueError naming the variable, the value and what is allowed."""
        with pytest.raises(ValueError, match=re.escape(fragment)) as info:
            Settings.from_env(env)
        assert next(iter(env)) in str(info.value)

    def test_values_that_would_lose_every_record_are_refused_as_keywords_too(self) -> None:
        """instrument(flush_timeout=inf) / queue_size=0 / output="": the same clear error."""
        for bad in ({"flush_timeout": float("inf")}, {"queue_size": 0}, {"output": ""}):
            with pytest.raises(
                ValueError, match=r"\(or LLMLOG_[A-Z_]+ in the environment\)=.* is not valid"
            ):
                Settings.from_env({}, **bad)

    @pytest.mark.parametrize("spelled", ["STDOUT", " stdout", "stdout\r", "/dev/stdout"])
    def test_a_stream_is_named_in_any_spelling(self, spelled: str) -> None:
        """A CRLF ``.env`` line or a container's ``/dev/stdout`` (a symlink the file sink
        refuses) is the stream, not a file named so."""
        assert Settings.from_env({"LLMLOG_OUTPUT": spelled}).output == "stdout"
        assert Settings.from_env({}, output=spelled.lower().replace("out", "err")).output == (
            "stderr"
        )

    def test_a_file_path_is_spelled_as_the_writer_and_the_cli_read_it(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``~`` expanded, a directory (``logs/`` or one that exists) holds the default file,
        a ``Path`` is accepted, surrounding spaces dropped."""
        monkeypatch.setenv("HOME", str(tmp_path))
        default_name = Path(DEFAULT_OUTPUT).name
        assert Settings.from_env({"LLMLOG_OUTPUT": "~/logs/a.jsonl"}).output == str(
            tmp_path / "logs" / "a.jsonl"
        )
        assert Settings.from_env({"LLMLOG_OUTPUT": "new-dir/"}).output == f"new-dir/{default_name}"
        assert Settings.from_env({"LLMLOG_OUTPUT": "win\\"}).output.endswith(f"/{default_name}")
        existing = tmp_path / "existing"
        existing.mkdir()
        assert Settings.from_env({}, output=existing).output == str(existing / default_name)
        assert Settings.from_env({"LLMLOG_OUTPUT": " x.jsonl\r"}).output == "x.jsonl"

    def test_a_list_setting_given_something_else_is_a_clear_error(self) -> None:
        """``instrument(disabled_providers=5)``: ValueError naming it, not a TypeError."""
        for bad in ({"disabled_providers": 5}, {"redact_deny": 1.5}):
            with pytest.raises(
                ValueError, match=r"\(or LLMLOG_[A-Z_]+ in the environment\)=.* is not valid"
            ):
                Settings.from_env({}, **bad)

    def test_none_as_a_keyword_means_not_given(self) -> None:
        """instrument(output=None) is the variable, else the default; never a file "None"."""
        assert Settings.from_env({}, output=None).output == DEFAULT_OUTPUT
        assert Settings.from_env({"LLMLOG_OUTPUT": "x.jsonl"}, output=None).output == "x.jsonl"
        assert Settings.from_env({}, ner_model=None).ner_model == "en_core_web_sm"

    @pytest.mark.parametrize(
        ("keyword", "fragment"),
        [
            (
                {"service": 5},
                "keyword service (or LLMLOG_SERVICE in the environment)=5 is not valid: "
                "expected text",
            ),
            ({"ner_model": 3.0}, "expected text"),
            ({"max_bytes": 1.5}, "a non-negative whole number"),
            ({"max_bytes": "1.5"}, "a non-negative whole number"),
            ({"redact_patterns": {"X": "["}}, "(or LLMLOG_REDACT_PATTERNS in the environment)"),
            ({"output": "logs/llm\0.jsonl"}, "a file path, without NUL characters"),
            (
                {"output": Path("llm\0.jsonl")},
                "(or LLMLOG_OUTPUT in the environment)=PosixPath('llm\\x00.jsonl')",
            ),
        ],
    )
    def test_keywords_of_the_wrong_kind_are_refused(
        self, keyword: dict[str, object], fragment: str
    ) -> None:
        """Not stringified (service=5) nor truncated (max_bytes=1.5 is not 1)."""
        with pytest.raises(ValueError, match=re.escape(fragment)):
            Settings.from_env({}, **keyword)

    def test_whole_floats_and_spaced_digits_are_numbers(self) -> None:
        """max_bytes=2.0 is 2; " 12 " from the environment is 12."""
        assert Settings.from_env({}, max_bytes=2.0).max_bytes == 2
        assert Settings.from_env({"LLMLOG_MAX_BYTES": " 12 "}).max_bytes == 12

    def test_choices_ignore_case_and_spaces_like_booleans(self) -> None:
        """ " PII", "Metadata ", "OpenAI" are accepted, as " TRUE " is for a boolean."""
        s = Settings.from_env(
            {
                "LLMLOG_REDACT": " PII",
                "LLMLOG_CAPTURE": "Metadata ",
                "LLMLOG_DISABLED_PROVIDERS": " OpenAI ,ANTHROPIC",
                "LLMLOG_SIGTERM": "DEFAULT",
                "LLMLOG_ENABLED": " TRUE ",
            }
        )
        assert (s.redact, s.capture, s.sigterm, s.enabled) == ("pii", "metadata", "default", True)
        assert s.disabled_providers == ("openai", "anthropic")
        assert Settings.from_env({}, redact_operator=" Hash").redact_operator == "hash"

    def test_zero_means_no_limit_is_documented(self) -> None:
        """MAX_BYTES=0 never rotates and MAX_FIELD_CHARS=0 never cuts: the table says so."""
        docs = {row[0]: row[3] for row in settings_table()}
        assert "`0`" in docs["LLMLOG_MAX_BYTES"] and "`0`" in docs["LLMLOG_MAX_FIELD_CHARS"]

    def test_bounds_themselves_are_allowed(self) -> None:
        """The smallest queue, no wait at exit and the longest wait are all valid."""
        s = Settings.from_env(
            {"LLMLOG_QUEUE_SIZE": "1", "LLMLOG_FLUSH_TIMEOUT": "0", "LLMLOG_SIGTERM": "default"}
        )
        assert (s.queue_size, s.flush_timeout, s.sigterm) == (1, 0.0, "default")
        assert Settings.from_env({"LLMLOG_FLUSH_TIMEOUT": "3600"}).flush_timeout == 3600.0

    def test_bad_keyword_names_the_keyword_and_the_variable(self) -> None:
        """instrument(redact='max') says it was the keyword (not the environment, which may
        not have the variable at all) and the variable's name."""
        with pytest.raises(
            ValueError, match=r"^keyword redact \(or LLMLOG_REDACT in the environment\)='max'"
        ):
            Settings.from_env({}, redact="max")

    def test_unknown_keyword_is_refused(self) -> None:
        """A misspelt setting is an error, not silently ignored."""
        with pytest.raises(ValueError, match="unknown llmlog setting"):
            Settings.from_env({}, reddact="off")


class TestTable:
    def test_env_names_follow_field_names(self) -> None:
        """Every field maps to LLMLOG_<FIELD>."""
        for f in dataclasses.fields(Settings):
            assert env_name(f.name) == "LLMLOG_" + f.name.upper()

    def test_readme_settings_table_is_generated_from_the_code(self) -> None:
        """The README's settings table is exactly `python -m llmlog._docs settings`."""
        from llmlog._docs import settings_markdown

        text = README.read_text()
        assert settings_markdown() in text
