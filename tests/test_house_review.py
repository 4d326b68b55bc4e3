"""Defects found by an adversarial review of the house (issue 14's reorganisation): settings, budgets,
errors and figures. Each test failed on the code before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from softco.config import ConfigError, load


@pytest.mark.parametrize("raw", ["maybe", "on?", "tru", "2"])
def test_an_unreadable_local_only_variable_is_refused_not_taken_as_off(raw: str) -> None:
    # SOFTCO_LOCAL_ONLY guards against requests leaving the machine: a value softco cannot read must not
    # quietly mean "off"
    with pytest.raises(ConfigError, match="SOFTCO_LOCAL_ONLY"):
        load(None, {"SOFTCO_LOCAL_ONLY": raw}, Path("/nonexistent"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("off", False),
        ("false", False),
        ("no", False),
    ],
)
def test_the_local_only_variable_reads_the_usual_words(raw: str, expected: bool) -> None:
    assert load(None, {"SOFTCO_LOCAL_ONLY": raw}, Path("/nonexistent")).local_only is expected


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("timeout = true\n", "timeout = True"),  # a bool is not a number of seconds (pydantic took it as 1 s)
        ("local_only = 1\n", "local_only = 1"),  # TOML has booleans: true or false
        ("local_only = 'yes'\n", "local_only = 'yes'"),
        ("output = ''\n", "output = ''"),  # an empty path was the file's own directory
        ("prices = ''\n", "prices = ''"),
        ("timeout = '30'\n", "timeout = '30'"),  # a string where TOML has numbers
    ],
)
def test_a_value_of_the_wrong_toml_type_in_the_file_is_named(tmp_path: Path, text: str, named: str) -> None:
    (tmp_path / "softco.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load(None, {}, tmp_path)
    message = str(info.value)
    assert str(tmp_path / "softco.toml") in message and named in message
    assert "\n" not in message


def test_a_softco_toml_that_is_a_directory_or_a_fifo_is_named_not_skipped(tmp_path: Path) -> None:
    (tmp_path / "softco.toml").mkdir()
    with pytest.raises(ConfigError, match="softco.toml: cannot read it"):
        load(None, {}, tmp_path)
    fifo = tmp_path / "fifo"
    fifo.mkdir()
    os.mkfifo(fifo / "softco.toml")  # never opened: reading it would wait for a writer forever
    with pytest.raises(ConfigError, match="softco.toml: cannot read it"):
        load(None, {}, fifo)


def test_a_dangling_or_looping_softco_toml_link_is_named_not_skipped(tmp_path: Path) -> None:
    os.symlink(tmp_path / "gone.toml", tmp_path / "softco.toml")
    with pytest.raises(ConfigError, match="softco.toml: cannot read it"):
        load(None, {}, tmp_path)
    loop = tmp_path / "loop"
    loop.mkdir()
    os.symlink(loop / "softco.toml", loop / "softco.toml")
    with pytest.raises(ConfigError, match="softco.toml: cannot read it"):
        load(None, {}, loop)


def test_record_into_a_directory_is_one_line_before_anything_is_created(tmp_path: Path) -> None:
    from helpers import run_cli

    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    for target in (tmp_path / "adir", tmp_path / "afile" / "rec.jsonl"):
        result = run_cli(["new", "a todo app", "--dry-run", "--record", str(target), "--output", "out"], tmp_path)
        assert result.exit_code == 2, result.stderr
        assert result.stderr.startswith("softco: error: ") and result.stderr.count("\n") == 1, result.stderr
        assert "--record" in result.stderr and "internal error" not in result.stderr
        assert not (tmp_path / "out").exists()  # refused before the project was made


BUDGET = "12"


def test_a_resume_counts_what_an_endpoint_without_usage_figures_cost_against_the_same_budget(tmp_path: Path) -> None:
    """An endpoint that reports no usage: the run counts its estimated usage against --budget (at the model's
    price) and stops. The resume rebuilt the budget from the board, where estimated usage has no price, so it
    started again from $0 and the same --budget paid for the same money twice."""
    from fake_server import FakeOpenAIServer, FakeReply
    from helpers import run_cli
    from scripted_project import REQUIREMENT, answers

    def reply(req: object) -> FakeReply:
        return FakeReply(content=answers()[getattr(req, "step", None) or ""], no_usage=True)

    prices = tmp_path / "prices.json"
    prices.write_text('{"pricey-model": [1000, 0]}')  # the prompt's share decides: the worst case is its bytes
    with FakeOpenAIServer(reply) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url, "SOFTCO_PRICES": str(prices)}
        args = ["--budget", BUDGET, "--model", "pricey-model"]
        res = run_cli(["new", REQUIREMENT, "--name", "calc", "--output", "out", *args], tmp_path, env)
        assert res.exit_code == 4, res.stdout + res.stderr
        made = len(srv.chat_requests())
        assert made >= 2
        res = run_cli(["resume", str(tmp_path / "out" / "calc"), "--budget", BUDGET], tmp_path, env)
        assert res.exit_code == 4, res.stdout + res.stderr
        assert len(srv.chat_requests()) == made  # the same budget buys no more calls
    # the figures stay honest: the estimated usage is not shown as priced
    shown = run_cli(["show", str(tmp_path / "out" / "calc"), "cost"], tmp_path)
    assert "not priced" in shown.stdout or "unpriced" in shown.stdout, shown.stdout


@pytest.mark.parametrize("lock", ["index.lock", "HEAD.lock", "refs/heads/main.lock"])
def test_a_run_killed_in_the_middle_of_a_commit_resumes(tmp_path: Path, lock: str) -> None:
    """Killed while git wrote its index or a ref, a run leaves git's lock file behind: every resume then failed
    with "Lock at .git/index.lock could not be obtained" and advice about disk space. softco holds the project's
    lock, so a git lock file older than a few seconds is a dead run's: resume removes it and commits the rest."""
    import sqlite3
    import time

    import git
    from helpers import run_cli, write_script
    from scripted_project import REQUIREMENT, answers

    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    project = tmp_path / "out" / "p"
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    (design_id,) = db.execute("SELECT id FROM messages WHERE kind='design'").fetchone()
    repo = git.Repo(project)
    before = next(c for c in repo.iter_commits() if f"Softco-Message: {design_id}" in str(c.message)).parents[0]
    repo.git.reset("--mixed", before.hexsha)  # the design and what followed: written, not committed
    db.execute("UPDATE messages SET commit_sha=NULL WHERE id>=?", (design_id,))
    db.commit()
    db.close()
    left = project / ".git" / lock
    left.write_text("")
    old = time.time() - 60
    os.utime(left, (old, old))

    res = run_cli(["resume", str(project)], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not left.exists()
    assert repo.git.status("--porcelain") == ""
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    assert db.execute("SELECT count(*) FROM messages WHERE commit_sha IS NULL").fetchone() == (0,)
    db.close()


def test_the_status_line_marks_a_budget_spend_that_counts_estimated_usage(tmp_path: Path) -> None:
    """The budget counts usage an endpoint did not report at the model's price (it must, to hold); the status
    line showed that sum as plain dollars beside 'unpriced', an estimate shown as if measured."""
    import io

    from rich.console import Console

    from softco.board import Board
    from softco.llm.budget import Budget
    from softco.report.terminal import Progress

    board = Board(tmp_path / "board.sqlite")
    board.start_run("r1", "a todo app", "sop", "gpt-4o-mini", {})
    board.record_step(
        "engineer/write_code/a.py",
        "r1",
        "engineer",
        "write_code",
        "a.py",
        "ok",
        0.0,
        1.0,
        request_hash="h",
        prompt_tokens=1000,
        completion_tokens=500,
        usage_source="estimated",
    )
    budget = Budget(max_usd=0.5, max_tokens=9000, spent_usd=0.0012, spent_tokens=1500)
    progress = Progress(Console(file=io.StringIO(), width=200), budget)
    progress.board, progress.run_id = board, "r1"
    line = progress.status().plain
    assert "budget ~$0.0012 of $0.50" in line and "token budget ~1,500 of 9,000" in line, line
    board.close()


def test_a_prices_file_that_is_a_fifo_or_a_device_is_one_line_not_a_hang(tmp_path: Path) -> None:
    """SOFTCO_PRICES=/dev/zero read until memory ran out; a FIFO waited for a writer forever."""
    from helpers import run_cli

    fifo = tmp_path / "prices.fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):
        res = run_cli(["new", "a todo app", "--dry-run", "--output", "out"], tmp_path, {"SOFTCO_PRICES": path})
        assert res.exit_code == 2, res.stdout + res.stderr
        assert res.stderr.startswith(f"softco: error: SOFTCO_PRICES={path}: ") and res.stderr.count("\n") == 1


def test_a_prices_file_larger_than_any_price_list_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "prices.json"
    big.write_text('{"m": [1, 2], "pad": "' + "x" * (17 * 1024 * 1024) + '"}')
    from helpers import run_cli

    res = run_cli(["new", "a todo app", "--dry-run", "--output", "out"], tmp_path, {"SOFTCO_PRICES": str(big)})
    assert res.exit_code == 2 and "over 16 MiB" in res.stderr, res.stderr


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE steps SET cost_usd = 'abc', usage_source = 'measured'",  # SQLite keeps text in a REAL column
        "UPDATE steps SET prompt_tokens = 'many'",
        "UPDATE runs SET started_at = 1e300",  # no date: datetime overflowed
        "UPDATE steps SET finished_at = 'later'",
    ],
)
def test_a_board_whose_figures_are_not_numbers_is_a_damaged_board_in_one_line(tmp_path: Path, damage: str) -> None:
    import sqlite3

    from helpers import run_cli, write_script
    from scripted_project import REQUIREMENT, answers

    script = write_script(tmp_path / "a.json", answers())
    res = run_cli(["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    project = tmp_path / "out" / "p"
    db = sqlite3.connect(project / ".softco" / "board.sqlite")
    db.execute(damage)
    db.commit()
    db.close()
    for args in (["show", str(project), "cost"], ["report", str(project)], ["resume", str(project)]):
        res = run_cli(args, tmp_path)
        assert res.exit_code == 1 and res.stderr.startswith("softco: error: the board "), (args, res.stderr)
        assert "internal error" not in res.stderr and res.stderr.count("\n") == 1
    res = run_cli(["runs", "--output", "out"], tmp_path)
    assert res.exit_code == 0 and "damaged board" in res.stdout, res.stdout + res.stderr


def _files_holding(root: Path, secret: str) -> list[str]:
    found = [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    return sorted(str(p.relative_to(root)) for p in found)


def test_a_password_in_the_base_url_lands_nowhere_and_resume_asks_for_it(tmp_path: Path) -> None:
    """`--base-url https://user:KEY@proxy/v1` (a proxy with basic auth): the password was saved in the board's
    run settings and the step cache's provider key, and printed on the terminal."""
    import git
    from fake_server import FakeOpenAIServer
    from helpers import run_cli
    from scripted_project import REQUIREMENT, answers

    secret = "sk-URLSECRET123"
    with FakeOpenAIServer(lambda req: answers()[req.step or ""]) as srv:
        url = srv.base_url.replace("http://", f"http://user:{secret}@")
        args = ["new", REQUIREMENT, "--name", "p", "--output", "out", "--base-url", url, "--token-budget", "7500"]
        res = run_cli(args, tmp_path)
        assert res.exit_code == 4, res.stdout + res.stderr  # stopped part-way: there is something to resume
        assert srv.chat_requests()
        assert secret not in res.stdout + res.stderr
        assert "user:***@127.0.0.1" in res.stdout  # the endpoint is still named
        project = tmp_path / "out" / "p"
        assert _files_holding(tmp_path / "out", secret) == []
        assert secret not in git.Repo(project).git.log("-p", "--all")
        # the resume cannot know the password: it asks for the URL again, in one line
        res = run_cli(["resume", str(project), "--token-budget", "1000000"], tmp_path)
        assert res.exit_code == 2 and "--base-url" in res.stderr and res.stderr.count("\n") == 1, res.stderr
        res = run_cli(["resume", str(project), "--token-budget", "1000000", "--base-url", url], tmp_path)
        assert res.exit_code == 0, res.stdout + res.stderr
        assert secret not in res.stdout + res.stderr
    assert _files_holding(tmp_path / "out", secret) == []


@pytest.mark.parametrize(
    ("rel", "make", "said"),
    [
        ("roles/engineer.yaml", "bytes", "not UTF-8 text"),
        ("roles/engineer.yaml", "dir", "not a regular file"),
        ("roles/engineer.yaml", "loop", "cannot read it"),
        ("roles/engineer.yaml", "fifo", "not a regular file"),  # reading it waited for a writer forever
        ("sop_templates/write_code.j2", "bytes", "not UTF-8 text"),
    ],
)
def test_an_unreadable_role_file_or_template_is_a_sop_problem_not_an_internal_error(
    tmp_path: Path, rel: str, make: str, said: str
) -> None:
    from helpers import run_cli

    sop = tmp_path / "sop"
    assert run_cli(["sop", "init", str(sop)], tmp_path).exit_code == 0
    path = sop / rel
    path.unlink()
    if make == "bytes":
        path.write_bytes(b"\xff\xfe not UTF-8 {{ x }}\n")
    elif make == "dir":
        path.mkdir()
    elif make == "loop":
        os.symlink(path, path)
    else:
        os.mkfifo(path)
    res = run_cli(["sop", "validate", str(sop)], tmp_path)
    assert res.exit_code == 2 and f"{path}:1: {said}" in res.stdout + res.stderr, res.stdout + res.stderr
    res = run_cli(["new", "a todo app", "--sop", str(sop), "--dry-run", "--output", "out"], tmp_path)
    assert res.exit_code == 2 and "internal error" not in res.stderr and f"{path}:1: {said}" in res.stderr
    assert not (tmp_path / "out").exists()


def test_serve_takes_the_output_directory_from_softco_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`softco serve` read SOFTCO_OUTPUT itself and never the settings file: with `output = "projects"` in
    softco.toml, `softco new` wrote to ./projects and `softco serve` showed ./output."""
    pytest.importorskip("uvicorn")
    from helpers import run_cli

    import softco.web.server
    from softco.errors import UsageError

    seen: list[Path] = []

    def prepare(out: Path, host: str, port: int) -> object:
        seen.append(out)
        raise UsageError("stop here")

    monkeypatch.setattr(softco.web.server, "prepare", prepare)
    (tmp_path / "softco.toml").write_text('output = "projects"\n')
    run_cli(["serve"], tmp_path)
    run_cli(["serve"], tmp_path, {"SOFTCO_OUTPUT": str(tmp_path / "from-env")})
    run_cli(["serve", str(tmp_path / "from-flag")], tmp_path, {"SOFTCO_OUTPUT": str(tmp_path / "from-env")})
    assert seen == [tmp_path / "projects", tmp_path / "from-env", tmp_path / "from-flag"]
    (tmp_path / "softco.toml").write_text("timeout = -1\n")  # a bad file stops serve too, in one line
    res = run_cli(["serve"], tmp_path)
    assert res.exit_code == 2 and "softco.toml: timeout = -1" in res.stderr and len(seen) == 3


def test_a_model_name_counts_exactly_only_on_openais_own_endpoint(tmp_path: Path) -> None:
    """A local server may serve any model as "gpt-4": the dry run said its prompts were "counted with tiktoken
    cl100k_base" for an endpoint whose tokenizer softco cannot know."""
    from helpers import run_cli

    from softco.llm.tokens import ESTIMATE, count_tokens

    pytest.importorskip("tiktoken")
    text = "def add(a, b):\n    return a + b\n"
    if count_tokens(text, "gpt-4").method == ESTIMATE:
        pytest.skip("no offline cl100k_base here")
    assert count_tokens(text, "gpt-4", "https://api.openai.com/v1").exact
    assert not count_tokens(text, "gpt-4", "http://127.0.0.1:8080/v1").exact
    assert not count_tokens(text, "gpt-4", "https://openrouter.ai/api/v1").exact
    local = run_cli(
        ["new", "a todo app", "--dry-run", "--model", "gpt-4", "--base-url", "http://127.0.0.1:9/v1", "--output", "a"],
        tmp_path,
    )
    assert local.exit_code == 0 and "cl100k" not in local.stdout and "estimate" in local.stdout, local.stdout
    official = run_cli(["new", "a todo app", "--dry-run", "--model", "gpt-4", "--output", "b"], tmp_path)
    assert official.exit_code == 0 and "counted with tiktoken cl100k_base" in official.stdout, official.stdout


def test_an_answer_nested_thousands_deep_is_re_asked_not_an_internal_error() -> None:
    """A hostile answer `{"a":{"a":...` 50,000 deep made the lenient reader raise RecursionError, which no one
    caught: the run ended in an internal error instead of a re-ask with the error."""
    import asyncio

    from pydantic import BaseModel, ConfigDict

    from softco.llm.base import LLM, ChatMessage, LLMRequest, LLMResponse
    from softco.llm.structured import ask_structured

    class Answer(BaseModel):
        model_config = ConfigDict(extra="forbid")
        title: str

    class Hostile(LLM):
        def __init__(self) -> None:
            self.answers = ['{"a":' * 50_000 + "1" + "}" * 50_000, '{"title": "ok"}']
            self.seen: list[LLMRequest] = []

        async def complete(self, request: LLMRequest) -> LLMResponse:
            self.seen.append(request)
            return LLMResponse(content=self.answers.pop(0))

    llm = Hostile()
    request = LLMRequest(step_key="pm/write_prd/project", messages=[ChatMessage(role="user", content="go")])
    result = asyncio.run(ask_structured(llm, request, Answer.model_validate_json))
    assert result.value == Answer(title="ok")
    assert len(llm.seen) == 2 and "rejected" in llm.seen[1].messages[-1].content


def test_a_rejected_answer_nested_thousands_deep_is_kept_as_it_came(tmp_path: Path) -> None:
    """The last rejected answer is kept for the user to fix: one nested 50,000 deep raised RecursionError
    while softco indented it, an internal error instead of the step's ways out."""
    import asyncio

    from softco.errors import SoftcoError
    from softco.llm.base import LLM, ChatMessage, LLMRequest, LLMResponse
    from softco.llm.structured import InvalidAnswer, ask_structured
    from softco.steps.rejected import keep_rejected

    deep = '{"a":' * 50_000 + "1" + "}" * 50_000

    class Hostile(LLM):
        async def complete(self, request: LLMRequest) -> LLMResponse:
            return LLMResponse(content=deep)

    def refuse(text: str) -> object:
        raise ValueError("not an answer")

    request = LLMRequest(step_key="pm/write_prd/project", messages=[ChatMessage(role="user", content="go")])
    with pytest.raises(InvalidAnswer) as info:
        asyncio.run(ask_structured(Hostile(), request, refuse))
    error = keep_rejected(tmp_path, "pm/write_prd/project", "pm", info.value)
    assert isinstance(error, SoftcoError) and "kept in" in str(error)
    kept = [p for p in tmp_path.rglob("*") if p.is_file() and p.read_text() == deep]
    assert len(kept) == 1


def test_a_damaged_endpoints_file_nested_deep_is_ignored_as_documented(tmp_path: Path) -> None:
    """endpoints.json is read as untrusted, "a wrong shape is ignored": JSON nested thousands deep raised
    RecursionError instead, and every run in that output directory died with an internal error."""
    from softco.llm.openai import EndpointModes

    path = tmp_path / "endpoints.json"
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert EndpointModes(path).get("http://127.0.0.1:8080/v1/") is None


def test_state_files_nested_deep_are_damaged_not_internal_errors(tmp_path: Path) -> None:
    """softco's own state read as untrusted: a board whose settings or payload are JSON nested thousands deep is a
    damaged board in one line; a lock file so nested still names its holder (pid unknown)."""
    import fcntl
    import sqlite3

    from softco.board import Board, BoardError
    from softco.company.lock import holder

    deep = "[" * 20_000 + "]" * 20_000
    path = tmp_path / "board.sqlite"
    Board(path).close()
    db = sqlite3.connect(path)
    db.execute(
        "INSERT INTO runs (id, requirement, sop_hash, model, settings_json, status, started_at) VALUES "
        "('r', 'x', 'h', 'm', ?, 'done', 1.0)",
        (deep,),
    )
    db.commit()
    db.close()
    with pytest.raises(BoardError, match="not a JSON object"):
        Board.open(path)
    project = tmp_path / "p"
    (project / ".softco").mkdir(parents=True)
    (project / ".softco" / "lock").write_text("[" * 16_384)
    fd = os.open(project / ".softco" / "lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process's lock, as far as this one can tell
    try:
        found = holder(project)
        assert found is not None and found.pid is None
    finally:
        os.close(fd)


@pytest.mark.parametrize(
    "args",
    [
        ["show", "LONG"],
        ["resume", "LONG"],
        ["report", "LONG"],
        ["runs", "--output", "LONG"],
        ["sop", "init", "LONG"],
        ["new", "a todo app", "--dry-run", "--sop", "LONG", "--output", "out"],
    ],
)
def test_a_path_the_system_refuses_is_one_line_not_an_internal_error(tmp_path: Path, args: list[str]) -> None:
    """A name longer than the file system takes (ENAMETOOLONG) was an internal error in five commands."""
    from helpers import run_cli

    long = "x" * 5000
    res = run_cli([long if a == "LONG" else a for a in args], tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith("softco: error: ") and res.stderr.count("\n") == 1, res.stderr
    assert "File name too long" in res.stderr and "internal error" not in res.stderr


def test_your_price_of_a_model_is_not_applied_to_another_model_whose_name_extends_it(tmp_path: Path) -> None:
    """SOFTCO_PRICES {"gpt-4o": [...]} priced gpt-4o-mini (a different model) at gpt-4o's price: any name that
    started with "gpt-4o-" was taken for a dated snapshot of it. Only a date or version suffix is a snapshot."""
    from softco import config
    from softco.llm.prices import cost_usd

    prices = tmp_path / "prices.json"
    prices.write_text('{"gpt-4o": [100, 100], "my-model": [1, 1]}')
    with config.using(config.Config(prices=prices)):
        assert cost_usd("gpt-4o", 1_000_000, 0) == 100
        assert cost_usd("gpt-4o-2024-08-06", 1_000_000, 0) == 100  # a dated snapshot of it
        assert cost_usd("my-model-0613", 1_000_000, 0) == 1
        assert cost_usd("my-model-20241022", 1_000_000, 0) == 1
        mini = cost_usd("gpt-4o-mini", 1_000_000, 0)
        assert mini is not None and mini < 1  # genai-prices' own price of gpt-4o-mini (0.15), not yours of gpt-4o
        assert cost_usd("my-model-large", 1_000_000, 0) is None  # another model: no price known


def test_serve_prints_an_ipv6_address_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    """`softco serve --host fd00::1` printed "http://:8750/?token=...": rich took "[fd00::1]" for markup."""
    import io

    from rich.console import Console

    from softco.web import command

    out = io.StringIO()
    url = "http://[fd00::1]:8750/?token=t0k3n"
    command._announce(Console(file=out, width=200), url, local=False)
    assert url in out.getvalue()


def test_a_call_whose_usage_is_not_reported_counts_its_bound_against_the_budget() -> None:
    """The budget is a hard cap: for an endpoint that reports no usage it added the 4-characters-a-token
    estimate, which undercounts code (about 3 characters a token) and most non-English text, so such a run
    could cross its budget. It now adds a real bound: the prompt's bound, and the answer's UTF-8 bytes."""
    import asyncio

    from fake_server import FakeOpenAIServer, FakeReply

    from softco.llm.base import ChatMessage, LLMRequest, ModelSettings
    from softco.llm.budget import Budget, BudgetedLLM, prompt_bound
    from softco.llm.openai import OpenAILLM, make_client

    answer = "日本語のテキスト " * 40  # 3 bytes a character: far more tokens than 4 characters a token
    request = LLMRequest(
        step_key="engineer/write_code/a.py",
        messages=[ChatMessage(role="user", content="Write it. " * 20)],
        settings=ModelSettings(max_tokens=2000),
    )
    budget = Budget(max_tokens=100_000)
    with FakeOpenAIServer([FakeReply(content=answer, no_usage=True)]) as srv:

        async def main() -> None:
            llm = BudgetedLLM(OpenAILLM(make_client(srv.base_url, None), model="local-model"), budget)
            try:
                await llm.complete(request)
            finally:
                await llm.aclose()

        asyncio.run(main())
    assert budget.spent_tokens == prompt_bound(request) + min(2000, len(answer.encode("utf-8")))
    assert budget.reserved_tokens == 0


@pytest.mark.parametrize("expression", ["+".join(["a"] * 5000), "-" * 100_000 + "1"])
def test_a_test_file_too_deeply_nested_for_pythons_parser_is_rejected_not_a_crash(expression: str) -> None:
    """QA's answer is read with `ast` to find its test functions: a 10 KB file of `a+a+...` raised
    RecursionError (and `----...1` MemoryError) out of the validator, an internal error that ended the run,
    instead of a rejected answer re-asked with the error."""
    from pydantic import ValidationError
    from scripted_project import TESTS, TESTS_ANSWER

    from softco.artifacts import Refs, Tests

    answer = {**TESTS_ANSWER, "content": f"x = {expression}\n{TESTS}"}
    with pytest.raises(ValidationError, match="too deeply nested"):
        Tests.model_validate(answer, context=Refs())


def test_a_bad_prices_file_named_in_softco_toml_is_named_as_the_files_setting(tmp_path: Path) -> None:
    """A prices file named by softco.toml that could not be read was reported as "SOFTCO_PRICES=...", a
    variable the user never set."""
    from helpers import run_cli

    (tmp_path / "softco.toml").write_text('prices = "missing.json"\n')
    res = run_cli(["new", "a todo app", "--dry-run", "--output", "out"], tmp_path)
    assert res.exit_code == 2 and res.stderr.startswith("softco: error: softco.toml's prices = "), res.stderr
    assert "SOFTCO_PRICES" not in res.stderr
    res = run_cli(["new", "a todo app", "--dry-run"], tmp_path, {"SOFTCO_PRICES": str(tmp_path / "nope.json")})
    assert res.exit_code == 2 and res.stderr.startswith("softco: error: SOFTCO_PRICES="), res.stderr


def test_a_step_cache_entry_this_softco_cannot_read_is_a_miss(tmp_path: Path) -> None:
    """The step cache is shared by every project of an output directory, and by every softco version that
    writes there: an answer kept by a newer softco (a field this one does not know) was an internal error on
    every later run; it is a miss, and the model answers."""
    import asyncio
    import sqlite3

    from softco.llm.base import LLM, ChatMessage, LLMRequest, LLMResponse
    from softco.llm.cache import CachedLLM, StepCache

    class Model(LLM):
        cache_id = "model"
        calls = 0

        async def complete(self, request: LLMRequest) -> LLMResponse:
            Model.calls += 1
            return LLMResponse(content="fresh")

    path = tmp_path / "cache.sqlite"
    request = LLMRequest(step_key="pm/write_prd/project", messages=[ChatMessage(role="user", content="go")])
    cache = StepCache(path)
    cache.put("model", request.request_hash(), LLMResponse(content="kept"))
    cache.close()
    db = sqlite3.connect(path)
    db.execute("UPDATE answers SET response_json = json_set(response_json, '$.future_field', 1)")
    db.commit()
    db.close()
    llm = CachedLLM(Model(), StepCache(path))
    assert asyncio.run(llm.complete(request)).content == "fresh" and Model.calls == 1


def test_a_damaged_step_cache_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    from fake_server import FakeOpenAIServer
    from helpers import run_cli
    from scripted_project import REQUIREMENT, answers

    cache = tmp_path / "out" / ".softco" / "cache.sqlite"
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"not a database " * 500)
    with FakeOpenAIServer(lambda req: answers()[req.step or ""]) as srv:
        res = run_cli(["new", REQUIREMENT, "--output", "out"], tmp_path, {"OPENAI_BASE_URL": srv.base_url})
        assert res.exit_code == 2 and res.stderr.count("\n") == 1, res.stderr
        assert str(cache) in res.stderr and "--no-cache" in res.stderr and "internal error" not in res.stderr
        assert not srv.chat_requests()
        res = run_cli(
            ["new", REQUIREMENT, "--output", "out", "--no-cache"], tmp_path, {"OPENAI_BASE_URL": srv.base_url}
        )
        assert res.exit_code == 0, res.stdout + res.stderr


def test_a_damaged_live_file_is_made_anew_by_the_run_that_holds_the_lock(tmp_path: Path) -> None:
    """.softco/live.sqlite holds only what a running run shares with `softco serve`'s page. Damaged, every
    resume failed with "writing the project failed (file is not a database); free disk space, permissions".
    The run holding the project's lock sets it aside and starts a new one."""
    from helpers import run_cli, write_script
    from scripted_project import REQUIREMENT, answers

    script = write_script(tmp_path / "a.json", answers())
    args = ["new", REQUIREMENT, "--name", "p", "--output", "out", "--llm", f"script:{script}", "--token-budget", "9"]
    assert run_cli(args, tmp_path).exit_code == 4  # stopped before its first call: there is a run to resume
    live = tmp_path / "out" / "p" / ".softco" / "live.sqlite"
    for extra in live.parent.glob("live.sqlite-*"):
        extra.unlink()
    live.write_bytes(b"not a database " * 500)
    res = run_cli(["resume", str(tmp_path / "out" / "p"), "--token-budget", "10000000"], tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert (live.parent / "live.sqlite.damaged").read_bytes().startswith(b"not a database")


def test_the_repo_map_notes_a_file_nested_too_deep_to_parse(tmp_path: Path) -> None:
    """`softco change` maps the repo's Python files with `ast` (the engineer's edits too): a file of
    `a+a+...` raised RecursionError through the map, an internal error."""
    from softco.change.repo_map import read_entry

    (tmp_path / "deep.py").write_text("x = " + "+".join(["a"] * 5000) + "\n")
    entry = read_entry(tmp_path, "deep.py")
    assert entry.problem is not None and "not parsed" in entry.problem


def test_an_endpoint_that_echoes_the_api_key_in_an_error_does_not_put_it_on_the_board(tmp_path: Path) -> None:
    """A proxy answering 401 "invalid key sk-..." with the whole key: the message was printed on the terminal
    and kept in the board's error column (OpenAI masks it; a proxy or a local server need not)."""
    from fake_server import FakeOpenAIServer, FakeReply
    from helpers import run_cli

    key = "sk-live-SECRETKEY0123456789"
    replies = [FakeReply(status=401, error=f"Incorrect API key provided: {key}")]
    with FakeOpenAIServer(replies) as srv:
        env = {"OPENAI_BASE_URL": srv.base_url, "OPENAI_API_KEY": key}
        res = run_cli(["new", "a todo app", "--name", "p", "--output", "out"], tmp_path, env)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "HTTP 401" in res.stderr and key not in res.stdout + res.stderr
    assert _files_holding(tmp_path / "out", key) == []


def test_an_endpoints_file_that_is_a_fifo_is_ignored_not_waited_on(tmp_path: Path) -> None:
    """endpoints.json is read as untrusted: one that is a FIFO (or a link to one) would wait for a writer forever
    before every run of its output directory; it is skipped unread, like any other damage."""
    import os
    import threading

    from softco.llm.openai import EndpointModes

    path = tmp_path / "endpoints.json"
    os.mkfifo(path)
    got: list[object] = []
    reader = threading.Thread(target=lambda: got.append(EndpointModes(path).get("http://127.0.0.1:8080/v1/")))
    reader.start()
    reader.join(30)  # a generous bound on a read that needs no time: past it, the reader is stuck on the FIFO
    blocked = reader.is_alive()
    if blocked:  # the old code: stuck in open(); let it go before failing
        with open(path, "wb"):
            pass
        reader.join()
    assert not blocked and got == [None]
