"""Tests for service/config.py: flags over environment over defaults, and worded refusals."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from service.config import DEFAULT_ADDRESS, ConfigError, Limits, add_arguments, build_config


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_without_flags_or_environment() -> None:
    """Nothing given: 127.0.0.1:50051, rulesets/, one worker, default limits, json off a terminal."""
    config = build_config(_args(), {}, stderr_is_tty=False)
    assert DEFAULT_ADDRESS == config.address
    assert Path("rulesets") == config.rulesets
    assert 1 == config.workers
    assert "json" == config.log_format
    assert Limits() == config.limits
    assert 1.0 == config.rulesets_recheck_seconds
    assert (8, 8) == (config.threads, config.stream_threads)


def test_console_logs_on_a_terminal() -> None:
    """The log format defaults to console when stderr is a terminal."""
    assert "console" == build_config(_args(), {}, stderr_is_tty=True).log_format


def test_environment_fills_in_missing_flags() -> None:
    """THIDUA_* variables configure what no flag says."""
    env = {"THIDUA_ADDRESS": "0.0.0.0:6000", "THIDUA_RULESETS": "/srv/r", "THIDUA_MAX_LIST_LENGTH": "7"}
    config = build_config(_args(), env, stderr_is_tty=False)
    assert "0.0.0.0:6000" == config.address
    assert Path("/srv/r") == config.rulesets
    assert 7 == config.limits.max_list_length


def test_recheck_interval_from_environment_and_flag() -> None:
    """THIDUA_RULESETS_RECHECK_SECONDS and --rulesets-recheck-seconds set the interval; 0 is allowed."""
    assert 0.0 == build_config(_args(), {"THIDUA_RULESETS_RECHECK_SECONDS": "0"}).rulesets_recheck_seconds
    assert 2.5 == build_config(_args("--rulesets-recheck-seconds", "2.5"), {}).rulesets_recheck_seconds


def test_flag_wins_over_environment() -> None:
    """A flag overrides its environment variable."""
    config = build_config(_args("--address", "127.0.0.1:7000", "--workers", "3"), {"THIDUA_ADDRESS": "x:1"})
    assert "127.0.0.1:7000" == config.address
    assert 3 == config.workers
    assert 7000 == config.port
    assert "127.0.0.1" == config.host


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (("--address", "nohost"), "HOST:PORT"),
        (("--address", "h:99999"), "65535"),
        (("--workers", "0"), "workers must be at least 1"),
        (("--workers", "two"), "whole number"),
        (("--stream-threads", "0"), "stream threads must be at least 1"),
        (("--log-format", "xml"), "json, console"),
        (("--grace-seconds", "-1"), "at least 0"),
        (("--rulesets-recheck-seconds", "soon"), "rulesets recheck seconds must be a number"),
        (("--rulesets-recheck-seconds", "-0.5"), "rulesets recheck seconds must be at least 0"),
        (("--rulesets-recheck-seconds", "inf"), "rulesets recheck seconds must be at least 0"),
        (("--max-units-per-bloc", "0"), "max units per bloc must be at least 1"),
    ],
)
def test_bad_values_are_refused_with_their_name(argv: tuple[str, ...], words: str) -> None:
    """An unusable value raises ConfigError naming the setting."""
    with pytest.raises(ConfigError) as info:
        build_config(_args(*argv), {}, stderr_is_tty=False)
    assert words in str(info.value)


def test_config_is_frozen() -> None:
    """The configuration cannot change after it is built."""
    config = build_config(_args(), {}, stderr_is_tty=False)
    with pytest.raises(AttributeError):
        config.workers = 2  # type: ignore[misc]
