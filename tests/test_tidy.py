"""One piece of code where there were two: softco's HTML environments, its bounded file reader."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from jinja2 import StrictUndefined, UndefinedError

from softco import config
from softco.text_file import read_text


@pytest.mark.parametrize("package", ["softco.report", "softco.web", "softco.eval"])
def test_every_html_page_renders_in_the_one_environment(package: str) -> None:
    from softco.report.html import environment, md

    env = environment(package)
    assert env is environment(package)  # made once
    assert env.undefined is StrictUndefined and env.trim_blocks and env.lstrip_blocks
    assert env.filters["md"] is md and "version" in env.globals and "format_cost" in env.globals
    page = env.from_string("{{ x }} {{ x | md_inline }}").render(x="<script>__init__.py</script>")
    assert "<script>" not in page and "&lt;script&gt;" in page and "__init__.py" in page
    with pytest.raises(UndefinedError):
        env.from_string("{{ nothing }}").render()


def test_the_pages_of_serve_and_the_scoreboard_use_it() -> None:
    from softco.report.html import environment
    from softco.web import pages

    assert pages.env() is environment("softco.web")
    assert pages.env().get_template("base.html.j2").environment is environment("softco.web")


def test_a_fifo_named_softco_toml_is_refused_unread(tmp_path: Path) -> None:
    """The settings file goes through the one bounded reader: a FIFO would wait for a writer forever."""
    fifo = tmp_path / "softco.toml"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"softco.toml: cannot read it \(not a regular file\); a settings"):
        read_text(fifo, 100, "a settings file is a few lines", regular_only=True)
    with pytest.raises(config.ConfigError, match=r"softco.toml: cannot read it \(not a regular file\)"):
        config.read_file(fifo)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * config.MAX_FILE_BYTES)
    with pytest.raises(config.ConfigError, match="big.toml: over 64 KiB; a settings file"):
        config.read_file(big)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'model = "caf\xe9"\n')
    with pytest.raises(config.ConfigError, match="latin.toml: not UTF-8 text; save it as UTF-8"):
        config.read_file(latin)


def test_a_prices_file_goes_through_the_same_reader(tmp_path: Path) -> None:
    from softco.llm.prices import PriceFileError, _user_prices

    fifo = tmp_path / "prices.fifo"
    os.mkfifo(fifo)
    with pytest.raises(PriceFileError, match=r"^P=\S+prices.fifo: cannot read it \(not a regular file\); name a JSON"):
        _user_prices(str(fifo), "P=")
    latin = tmp_path / "prices.json"
    latin.write_bytes(b'{"caf\xe9": [1, 2]}')
    with pytest.raises(PriceFileError, match=r"prices.json: not UTF-8 text; save it as UTF-8"):
        _user_prices(str(latin), "P=")
