"""softco's settings: one validated :class:`Config` from flags, the environment and an optional
``softco.toml``. Precedence, for each setting on its own: a flag, else its environment variable, else the
file, else the default. Every other module asks :func:`current` (or :func:`api_key`, :func:`debug`)
instead of reading ``os.environ``.

The file is looked up once per command, first in the output directory (``--output``, else
``SOFTCO_OUTPUT``, else ``./output``), then in the current directory; the first one found is used, the
other is not read. Its keys are the fields of :class:`Config`, e.g.::

    model = "qwen2.5-coder:7b"
    base_url = "http://localhost:11434/v1"
    timeout = 900
    structured = "json"

A relative ``output`` or ``prices`` path in the file is relative to the file's directory. API keys are not
settings: they stay in the environment (``OPENAI_API_KEY``), never in a file a project may share.

A value that is not valid stops the command before anything is created, with one line naming where it
came from: the flag, the variable (``SOFTCO_TIMEOUT='ten': ...``) or the file and its key.
"""

from __future__ import annotations

import math
import os
import threading
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from softco.errors import UsageError
from softco.text_file import read_text

FILE_NAME = "softco.toml"
#: The model when nothing names one.
DEFAULT_MODEL = "gpt-4o-mini"
#: The whole call, connecting, sending and reading the answer (seconds).
DEFAULT_TIMEOUT = 600.0
#: Connecting to the endpoint (seconds).
DEFAULT_CONNECT_TIMEOUT = 10.0
#: The longest a timeout may be: a day.
MAX_TIMEOUT = 86_400.0
#: The largest softco.toml read; a settings file is a few lines.
MAX_FILE_BYTES = 64 * 1024

#: Each setting's environment variable.
ENV_VARS: dict[str, str] = {
    "model": "SOFTCO_MODEL",
    "base_url": "OPENAI_BASE_URL",
    "output": "SOFTCO_OUTPUT",
    "timeout": "SOFTCO_TIMEOUT",
    "connect_timeout": "SOFTCO_CONNECT_TIMEOUT",
    "read_timeout": "SOFTCO_READ_TIMEOUT",
    "prices": "SOFTCO_PRICES",
    "pip_index_url": "SOFTCO_PIP_INDEX_URL",
    "structured": "SOFTCO_STRUCTURED",
    "local_only": "SOFTCO_LOCAL_ONLY",
}
#: Each setting's flag, for those a command takes.
FLAGS: dict[str, str] = {
    "model": "--model",
    "base_url": "--base-url",
    "output": "--output",
    "structured": "--structured",
}
#: What a good value looks like, for the one-line error.
_HINTS: dict[str, str] = {
    "model": "give a model name, e.g. gpt-4o-mini",
    "base_url": "give the endpoint's URL, e.g. http://127.0.0.1:8000/v1",
    "output": "give a directory",
    "timeout": "give the seconds to wait for an answer, a positive number of seconds up to 86400 such as 600",
    "connect_timeout": "give the seconds to wait for a connection, a positive number of seconds up to 86400 such as 10",
    "read_timeout": "give the seconds to wait for each byte of an answer, a positive number of seconds up to 86400",
    "prices": "give the path of a JSON file of prices",
    "pip_index_url": "give an http(s):// or file:/// URL",
    "structured": "give one of schema, json, prompt: schema (response_format json_schema), json (JSON mode, schema "
    "in the prompt) or prompt (schema in the prompt)",
    "local_only": "give 1 (or true) to refuse every model request that is not to this machine",
}

Structured = Literal["schema", "json", "prompt"]


class ConfigError(UsageError):
    """A setting that is not valid: one line naming its flag, variable or file and key (exit 2)."""


class Config(BaseModel):
    """softco's settings (see the module docstring for where each comes from)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(DEFAULT_MODEL, min_length=1, max_length=200, description="the model's name")
    base_url: str | None = Field(None, max_length=2000, description="the OpenAI-compatible endpoint")
    output: Path = Field(Path("output"), description="where projects go")
    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="seconds one call may take in all")
    connect_timeout: float = Field(DEFAULT_CONNECT_TIMEOUT, gt=0, le=MAX_TIMEOUT, description="seconds to connect")
    read_timeout: float | None = Field(None, gt=0, le=MAX_TIMEOUT, description="seconds for each byte; default timeout")
    prices: Path | None = Field(None, description="a JSON file of model prices, overriding the bundled ones")
    pip_index_url: str | None = Field(None, description="the index generated projects' dependencies come from")
    structured: Structured | None = Field(None, description="how structured answers are asked for")
    local_only: bool = Field(False, description="refuse every model request that is not to this machine")

    @field_validator("timeout", "connect_timeout", "read_timeout")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("not a finite number")
        return value

    @field_validator("pip_index_url")
    @classmethod
    def _index(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "file:///")):
            raise ValueError("not an http(s):// or file:/// URL")
        return value

    @field_validator("structured", mode="before")
    @classmethod
    def _mode(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


#: The words a yes/no variable (SOFTCO_LOCAL_ONLY) takes; any other word is refused, never taken as "no".
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _env_value(field: str, raw: str) -> object:
    """An environment variable's text as the field takes it; "" and blanks mean unset (None)."""
    text = raw.strip()
    if not text:
        return None
    if field == "local_only":
        word = text.lower()
        if word not in _YES + _NO:
            raise ConfigError(
                f"{ENV_VARS[field]}={_quote(raw)}: not a yes or no; give 1 (or true, yes, on) to refuse every model "
                "request that is not to this machine, 0 (or false, no, off) to allow them, or unset it"
            )
        return word in _YES
    return text


def _quote(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def find_file(output: Path | None, cwd: Path) -> Path | None:
    """The softco.toml to read: the output directory's, else the current directory's, else None. Anything of
    that name counts (a directory, a dangling link): :func:`read_file` then says why it cannot be read."""
    for folder in (cwd / (output if output is not None else Path("output")), cwd):
        path = folder / FILE_NAME
        if os.path.lexists(path):
            return path
    return None


#: The TOML type each key takes (a bool is not a number of seconds; a path is a non-empty string).
_TOML_TYPES: dict[str, tuple[str, tuple[type, ...]]] = {
    **{k: ("a string", (str,)) for k in ("model", "base_url", "output", "prices", "pip_index_url", "structured")},
    **{k: ("a number", (int, float)) for k in ("timeout", "connect_timeout", "read_timeout")},
    "local_only": ("true or false", (bool,)),
}


def _check_types(path: Path, table: Mapping[str, object]) -> None:
    """Each known key's value is of its TOML type (pydantic alone would take ``timeout = true`` as 1 s)."""
    for key, value in table.items():
        if key not in _TOML_TYPES:
            continue  # an unknown key is named by the validation, with the keys there are
        what, types = _TOML_TYPES[key]
        wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        if wrong or (key in ("output", "prices") and value == ""):
            hint = _HINTS.get(key, "fix it")
            raise ConfigError(f"{path}: {key} = {_quote(value)}: expected {what}; {hint}; fix the file")


def read_file(path: Path) -> dict[str, Any]:
    """A softco.toml's table, its relative paths made relative to its directory; ConfigError if unreadable."""
    try:
        text = read_text(path, MAX_FILE_BYTES, "a settings file is a few lines: fix it or remove it", regular_only=True)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({str(exc).splitlines()[0][:200]}); fix the file") from None
    _check_types(path, table)
    for key in ("output", "prices"):
        value = table.get(key)
        if isinstance(value, str) and value:
            table[key] = str(path.parent / Path(value).expanduser())
    return table


def load(
    flags: Mapping[str, object] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    use_file: bool = True,
) -> Config:
    """The settings: ``flags`` (None values are not given) over ``env`` (default ``os.environ``) over the
    softco.toml found (:func:`find_file`) over the defaults. Raises :class:`ConfigError` naming the source."""
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    given = {k: v for k, v in (flags or {}).items() if v is not None}
    unknown_flags = sorted(set(given) - set(FLAGS))
    if unknown_flags:
        raise ValueError(f"not settings with a flag: {unknown_flags}")  # a bug in the caller, not the user's
    from_env = {f: _env_value(f, env.get(var, "")) for f, var in ENV_VARS.items()}
    from_env = {f: v for f, v in from_env.items() if v is not None}
    values: dict[str, object] = {}
    sources: dict[str, str] = {}
    path: Path | None = None
    if use_file:
        output = given.get("output", from_env.get("output"))
        path = find_file(Path(str(output)) if output is not None else None, cwd)
    if path is not None:
        for key, value in read_file(path).items():
            values[key], sources[key] = value, "file"
    for key, value in from_env.items():
        values[key], sources[key] = value, "env"
    for key, value in given.items():
        values[key], sources[key] = value, "flag"
    try:
        return Config.model_validate(values)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, values, sources, path)) from None


def _describe(exc: ValidationError, values: Mapping[str, object], sources: Mapping[str, str], path: Path | None) -> str:
    """The first problem, as one line naming where the value came from and what to give instead."""
    error = exc.errors()[0]
    key = str(error["loc"][0]) if error["loc"] else ""
    source = sources.get(key, "file")
    if error["type"] == "extra_forbidden":
        keys = ", ".join(Config.model_fields)
        hint = " (API keys stay in the environment, e.g. OPENAI_API_KEY)" if "key" in key.lower() else ""
        return f"{path}: unknown key {key!r}{hint}; the keys are {keys}"
    why = f"{error['msg'][:120]}; {_HINTS.get(key, 'fix it')}"
    raw = _quote(values.get(key))
    if source == "flag":
        return f"{FLAGS[key]} {raw}: {why}"
    if source == "env":
        return f"{ENV_VARS[key]}={raw}: {why}, or unset it"
    return f"{path}: {key} = {raw}: {why}; fix the file"


# The settings in use: what a command loaded (:func:`using`), else the environment and the current
# directory's file, loaded once per (environment, directory).
_lock = threading.Lock()
_in_use: Config | None = None
_loaded: dict[tuple[tuple[tuple[str, str], ...], str], Config] = {}


@contextmanager
def using(config: Config) -> Iterator[Config]:
    """Make ``config`` the one :func:`current` returns while the block runs (a command's whole run)."""
    global _in_use
    with _lock:
        previous, _in_use = _in_use, config
    try:
        yield config
    finally:
        with _lock:
            _in_use = previous


def current() -> Config:
    """The settings in use: a command's (:func:`using`), else loaded from the environment and the file."""
    if _in_use is not None:
        return _in_use
    key = (tuple((var, os.environ.get(var, "")) for var in ENV_VARS.values()), os.getcwd())
    with _lock:
        found = _loaded.get(key)
    if found is None:
        found = load()
        with _lock:
            if len(_loaded) > 32:
                _loaded.clear()
            _loaded[key] = found
    return found


def redact_url(url: str) -> str:
    """``url`` with its user part (``https://user:password@host``, a proxy's basic auth) shown as ``user:***``:
    the form of a URL softco keeps (the board, the step cache, endpoints.json) or prints."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None or "@" not in parts.netloc:
        return url
    userinfo, host = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{userinfo.split(':', 1)[0]}:***@{host}"))


def is_redacted(url: str | None) -> bool:
    """A URL :func:`redact_url` took a password out of."""
    return url is not None and ":***@" in url


def named(key: str) -> str:
    """How an error names a setting without a flag whose value it quotes next: ``SOFTCO_PRICES=`` when the
    variable is set (it wins over the file), else ``softco.toml's prices = ``."""
    var = ENV_VARS[key]
    return f"{var}=" if os.environ.get(var, "").strip() else f"{FILE_NAME}'s {key} = "


def api_key() -> str | None:
    """The API key of the default endpoint (``OPENAI_API_KEY``); never a setting in a file."""
    return os.environ.get("OPENAI_API_KEY") or None


def env_named(name: str) -> str | None:
    """An environment variable a role file names (``base_url_env``, ``api_key_env``); None if unset or empty."""
    return os.environ.get(name) or None


def debug() -> bool:
    """``SOFTCO_DEBUG``: an internal error shows its traceback."""
    return bool(os.environ.get("SOFTCO_DEBUG"))


def editor() -> str | None:
    """The user's editor, for ``--approve`` edits and ``--human``: ``$VISUAL``, else ``$EDITOR``."""
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or None


def cache_home() -> Path:
    """Where softco keeps per-user caches: ``$XDG_CACHE_HOME/softco`` (an absolute path, as the XDG base
    directory spec asks), else ``~/.cache/softco``."""
    xdg = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "softco"
