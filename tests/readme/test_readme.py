"""The console blocks of README.md, parsed (used by test_readme.py and conftest.py).

The convention, stated where it is used (README.md, "Development"):

- A fenced block whose info string starts with `console` is a terminal transcript: each line that
  starts with `$ ` is a command (a line ending in `\\` continues on the next line), and the lines
  after it, up to the next command, are what it prints (stdout and stderr together, as a
  terminal shows them).
- ```` ```console ```` blocks are run by `make readme-test`: every command from the repository
  root (a scratch copy of it made of symlinks, so files a command writes do not land in the
  work tree), with `routegen` = target/debug/routegen; the output must be exactly what the
  block shows, and each command must exit 0 (a block that shows a failure says so with
  `; echo "exit $?"`).
- ```` ```console no-run ```` blocks need something a test cannot have (a running Envoy or
  Prometheus, a cluster, minutes of time): they are counted and skipped, never run.
- ```` ```console needs=PATH ```` blocks run only when PATH (relative to the repository root)
  exists, e.g. `.cache/github-api.json` from `make github-api`; `make readme-test` provides it.
- In an expected line, `…` matches any text within that line (for volatile figures such as
  latencies or byte counts); a line that is only `…` matches any number of lines.
- Every fenced block has an info string, and no other block holds `$ ` lines, so a transcript
  cannot hide from the test as a plain block.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

_FENCE = re.compile(r"^( *)(`{3,})(.*)$")


@dataclass
class Command:
    line: int          # 1-based line of the `$ ` line in README.md
    text: str          # the command, continuations joined with newlines
    expected: list[str] = field(default_factory=list)


@dataclass
class Block:
    line: int          # 1-based line of the opening fence
    info: str          # the info string, e.g. "console no-run"
    body: list[str]

    @property
    def words(self) -> list[str]:
        return self.info.split()

    @property
    def is_console(self) -> bool:
        return bool(self.words) and self.words[0] == "console"

    @property
    def no_run(self) -> bool:
        return "no-run" in self.words[1:]

    @property
    def needs(self) -> list[str]:
        return [w.split("=", 1)[1] for w in self.words[1:] if w.startswith("needs=")]

    def commands(self) -> list[Command]:
        cmds: list[Command] = []
        lines = iter(enumerate(self.body, start=self.line + 1))
        for number, text in lines:
            if text.startswith("$ "):
                command = text[2:]
                while command.endswith("\\"):
                    number_next, more = next(lines)
                    command += "\n" + more
                cmds.append(Command(number, command))
            elif not cmds:
                raise ValueError(f"README.md:{number}: a console block must start with a `$ ` command line")
            else:
                cmds[-1].expected.append(text)
        return cmds


def blocks(text: str | None = None) -> list[Block]:
    """Every fenced block of the README, in order."""
    text = README.read_text(encoding="utf-8") if text is None else text
    out: list[Block] = []
    current: Block | None = None
    fence, indent = "", ""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _FENCE.match(line)
        if current is None:
            if m:
                indent, fence = m.group(1), m.group(2)
                current = Block(number, m.group(3).strip(), [])
        elif line.strip() == fence:
            out.append(current)
            current = None
        else:
            # a block inside a list item is indented; its lines are read without that indent
            current.body.append(line[len(indent):] if line.startswith(indent) else line)
    if current is not None:
        raise ValueError(f"README.md:{current.line}: unclosed fenced block")
    return out


def console_blocks(text: str | None = None) -> list[Block]:
    return [b for b in blocks(text) if b.is_console]


def _line_pattern(expected: str) -> re.Pattern:
    parts = [re.escape(p) for p in expected.split("…")]
    return re.compile(".*?".join(parts) + r"\Z", re.S)


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether `actual` lines are what `expected` shows (with `…` masks, see the module doc)."""
    def go(i: int, j: int) -> bool:
        if i == len(expected):
            return j == len(actual)
        if expected[i].strip() == "…":
            return any(go(i + 1, k) for k in range(j, len(actual) + 1))
        return j < len(actual) and bool(_line_pattern(expected[i]).match(actual[j])) and go(i + 1, j + 1)
    return go(0, 0)


def normalise(output: str) -> list[str]:
    """Lines without trailing whitespace, trailing blank lines dropped."""
    lines = [line.rstrip() for line in output.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return lines


# ---- the tests ---------------------------------------------------------------------------------

ALL = blocks()
CONSOLE = [b for b in ALL if b.is_console]
RUNNABLE = [b for b in CONSOLE if not b.no_run]
NOT_RUN = [b for b in CONSOLE if b.no_run]
COMMAND_TIMEOUT = 120


@pytest.fixture(scope="session")
def routegen_bin() -> Path:
    path = Path(os.environ.get("ROUTEGEN_CLI") or ROOT / "target/debug/routegen").resolve()
    if not path.exists():
        raise pytest.UsageError(f"{path} does not exist: cargo build -p routegen-cli --bin routegen (or make readme-test)")
    return path


@pytest.fixture(scope="session")
def counts(pytestconfig) -> dict:
    """Filled in as blocks run; conftest.py prints it at the end of the session."""
    if not hasattr(pytestconfig, "readme_counts"):
        pytestconfig.readme_counts = {"run": 0, "no-run": len(NOT_RUN), "missing": []}
    return pytestconfig.readme_counts


def scratch_root(tmp: Path) -> Path:
    """A directory that looks like the repository root (one symlink per top-level entry), so a
    command that writes `bookstore.yaml` writes it here, not into the work tree."""
    root = tmp / "root"
    root.mkdir()
    for entry in ROOT.iterdir():
        (root / entry.name).symlink_to(entry)
    return root


def run_block(block: Block, routegen: Path, tmp: Path) -> list[str]:
    """Runs every command of `block`; returns the differences (empty when the block is true)."""
    bindir = tmp / "bin"
    bindir.mkdir()
    (bindir / "routegen").symlink_to(routegen)
    cwd = scratch_root(tmp)
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '/usr/bin:/bin')}",
           "LC_ALL": "C.UTF-8", "NO_COLOR": "1", "TERM": "dumb", "COLUMNS": "100"}
    problems = []
    for cmd in block.commands():
        proc = subprocess.run(["bash", "-c", cmd.text], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=COMMAND_TIMEOUT)
        actual = normalise(proc.stdout)
        expected = normalise("\n".join(cmd.expected))
        where = f"README.md:{cmd.line}: $ {cmd.text}"
        if proc.returncode != 0:
            problems.append(f"{where}\n  exited {proc.returncode} (show a failure with `; echo \"exit $?\"`)")
        if not matches(expected, actual):
            diff = "\n".join(difflib.unified_diff(expected, actual, "README", "actual", lineterm="", n=2))
            problems.append(f"{where}\n{diff}")
    return problems


@pytest.mark.parametrize("block", RUNNABLE, ids=[f"README.md:{b.line}" for b in RUNNABLE])
def test_console_block(block: Block, routegen_bin, counts, tmp_path):
    missing = [p for p in block.needs if not (ROOT / p).exists()]
    if missing:
        counts["missing"].append(block.line)
        pytest.skip(f"needs {', '.join(missing)} (make readme-test provides it)")
    problems = run_block(block, routegen_bin, tmp_path)
    counts["run"] += 1
    assert not problems, "the README shows something else than the command prints:\n\n" + "\n\n".join(problems)


def test_no_run_blocks_are_transcripts(counts):
    """`console no-run` blocks are not run, but they are still transcripts (commands first)."""
    for block in NOT_RUN:
        assert block.commands(), f"README.md:{block.line}: an empty console block"


def test_every_block_is_labelled():
    """A transcript cannot hide from the test in a plain block: every fence has an info string,
    and `$ ` lines appear only in console blocks."""
    for block in ALL:
        assert block.info, f"README.md:{block.line}: a fenced block without an info string (console, sh, json, ...)"
        if not block.is_console:
            dollars = [line for line in block.body if line.startswith("$ ")]
            assert not dollars, f"README.md:{block.line}: `$ ` lines in a {block.info!r} block: make it a console block"
    assert RUNNABLE, "no runnable console block found in README.md"


_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_local_links_exist():
    """Every relative link of the README names a file or directory of the repository."""
    text = README.read_text(encoding="utf-8")
    broken = [t for t in _LINK.findall(text) if "://" not in t and not t.startswith("mailto:")
              and not (ROOT / t).exists()]
    assert not broken, f"README.md links to paths that do not exist: {broken}"
