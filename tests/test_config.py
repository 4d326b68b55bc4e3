"""softco.config: one validated config from flags, the environment and softco.toml, in that order, and a
bad setting is one line naming where it came from (the flag, the variable, or the file and its key)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import softco.cli
import softco.company.run  # noqa: F401  (imported first: the CLI then imports nothing more in-process)
from softco import config
from softco.config import Config, ConfigError, load
from softco.llm.openai import CallTimeouts, call_timeouts

REQUIREMENT = "a command-line todo app"


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`softco ARGS` in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["softco", *args])
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit) as info:
        softco.cli.main()
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out, out.err


def test_each_setting_comes_from_the_flag_else_the_environment_else_the_file_else_the_default(tmp_path: Path) -> None:
    (tmp_path / "softco.toml").write_text('model = "from-file"\nbase_url = "http://file:1/v1"\ntimeout = 30\n')
    env = {"SOFTCO_MODEL": "from-env", "SOFTCO_TIMEOUT": "40"}
    got = load({"model": "from-flag"}, env, tmp_path)
    assert got.model == "from-flag"  # flag over env over file
    assert got.timeout == 40  # env over file
    assert got.base_url == "http://file:1/v1"  # the file over the default
    assert got.connect_timeout == 10  # the default
    assert load(None, env, tmp_path).model == "from-env"
    assert load(None, {}, tmp_path).model == "from-file"
    assert load(None, {}, tmp_path / "nowhere").model == "gpt-4o-mini"
    assert load({"model": None}, {"SOFTCO_MODEL": ""}, tmp_path).model == "from-file"  # unset and empty: not given


def test_the_output_directorys_file_is_used_before_the_current_directorys(tmp_path: Path) -> None:
    (tmp_path / "softco.toml").write_text('model = "cwd"\n')
    projects = tmp_path / "projects"
    projects.mkdir()
    (projects / "softco.toml").write_text('model = "output-dir"\nprices = "prices.json"\n')
    assert load({"output": Path("projects")}, {}, tmp_path).model == "output-dir"
    assert load(None, {"SOFTCO_OUTPUT": str(projects)}, tmp_path).model == "output-dir"
    assert load(None, {}, tmp_path).model == "cwd"  # ./output has none
    # a relative path in the file is relative to the file
    assert load({"output": projects}, {}, tmp_path).prices == projects / "prices.json"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("modle = 'x'\n", "unknown key 'modle'"),
        ("timeout = -1\n", "timeout = -1"),
        ("timeout = 'ten'\n", "timeout = 'ten'"),
        ("structured = 'grammar'\n", "structured = 'grammar'"),
        ("pip_index_url = 'ftp://x'\n", "pip_index_url = 'ftp://x'"),
        ("model = \n", "not valid TOML"),
        ("openai_api_key = 'sk-...'\n", "API keys stay in the environment"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_file_and_the_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "softco.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(None, {}, tmp_path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and named in message, message


def test_a_bad_variable_or_flag_is_named() -> None:
    with pytest.raises(ConfigError, match=r"^SOFTCO_CONNECT_TIMEOUT='0': .*seconds.*or unset it$"):
        load(None, {"SOFTCO_CONNECT_TIMEOUT": "0"}, Path("/nonexistent"))
    with pytest.raises(ConfigError, match=r"^--structured 'xml': .*schema, json, prompt"):
        load({"structured": "xml"}, {}, Path("/nonexistent"))


def test_the_modules_ask_the_config_so_the_file_reaches_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The timeouts used to be read from the environment alone: a softco.toml now sets them, and the
    environment still wins over it."""
    (tmp_path / "softco.toml").write_text("timeout = 90\nread_timeout = 30\n")
    assert call_timeouts() == CallTimeouts(total=90, connect=10, read=30)
    monkeypatch.setenv("SOFTCO_TIMEOUT", "20")
    assert call_timeouts() == CallTimeouts(total=20, connect=10, read=20)
    with config.using(Config(timeout=5)):
        assert call_timeouts() == CallTimeouts(total=5, connect=5, read=5)
    assert config.current().timeout == 20


def test_new_refuses_a_bad_file_before_creating_anything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "softco.toml").write_text("model = 'm'\nconnect_timeout = 'soon'\n")
    code, _, err = cli(monkeypatch, capsys, "new", REQUIREMENT, "--dry-run", "--output", "out")
    assert code == 2, err
    assert err.count("\n") == 1 and "softco.toml: connect_timeout = 'soon'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_new_takes_the_model_from_the_file_unless_a_flag_names_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "softco.toml").write_text('model = "model-from-file"\n')
    code, stdout, err = cli(monkeypatch, capsys, "new", REQUIREMENT, "--dry-run", "--output", "out", "--name", "a")
    assert code == 0, stdout + err
    assert "model model-from-file" in stdout
    code, stdout, err = cli(monkeypatch, capsys, "new", REQUIREMENT, "--dry-run", "--output", "out", "--model", "m2")
    assert code == 0, stdout + err
    assert "model m2" in stdout and "model-from-file" not in stdout
