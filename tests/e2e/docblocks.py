"""Fenced blocks of the Markdown docs and what the docs runner does with each.

A block's language decides: `sh` is run (bash -e, must exit 0), `yaml` must say where it goes
(`<!-- apply: params.yaml -->`), `text` and `json` are shown only. An HTML comment between
the previous block and a fence changes that (one per block):

    <!-- run: slow -->          only in the slow suite (`make test-all`)
    <!-- run: exit=2 -->        the block must exit with 2
    <!-- run: background -->    a server: started, kept until the page ends (its --port made free)
    <!-- apply: params.yaml --> a yaml block whose sections replace params.yaml's (or tune.yaml's),
                                then checked by the params dataclasses
    <!-- not run: REASON -->    skipped; the reason is required, and the text above the block
                                must say "Not run by the docs tests" too, for the reader

Anything else (no language, another language, an unknown marker) is an error, so a command
cannot slip past the runner.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

LANGS = ("sh", "yaml", "text", "json")
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<info>.*)$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>run|apply|not run):\s*(?P<arg>.*?)\s*-->\s*$")
VISIBLE_SKIP = "not run by the docs tests"
#: files a yaml block may be applied to (sections checked by the params dataclasses)
APPLY_TARGETS = ("params.yaml", "tune.yaml")


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and text, and what the runner does with it."""

    path: Path
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    slow: bool = False
    exit_code: int = 0
    background: bool = False
    apply: str | None = None
    skip: str | None = None  # the reason it is not run

    @property
    def where(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.lang == "sh" and self.skip is None


class DocError(ValueError):
    """A doc block the runner cannot classify."""


def _marker(path: Path, line: int, kind: str, arg: str, lang: str, before: str) -> dict:
    where = f"{path.name}:{line}"
    if kind == "not run":
        if not arg:
            raise DocError(f"{where}: `<!-- not run: -->` needs a reason")
        if VISIBLE_SKIP not in before.lower():
            raise DocError(f"{where}: a block not run must say so in the text above it "
                           f"(\"Not run by the docs tests (reason)\")")
        return {"skip": arg}
    if kind == "apply":
        if lang != "yaml" or arg not in APPLY_TARGETS:
            raise DocError(f"{where}: `apply` takes a yaml block and one of {', '.join(APPLY_TARGETS)}")
        return {"apply": arg}
    if lang != "sh":
        raise DocError(f"{where}: `run:` options apply to sh blocks only")
    opts: dict = {}
    for word in arg.split():
        if word == "slow":
            opts["slow"] = True
        elif word == "background":
            opts["background"] = True
        elif re.fullmatch(r"exit=\d+", word):
            opts["exit_code"] = int(word.removeprefix("exit="))
        else:
            raise DocError(f"{where}: unknown run option {word!r} (slow, background, exit=N)")
    return opts


def parse(path: Path) -> list[Block]:
    """Every fenced block of `path`, classified; raise DocError on one the runner cannot place."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    prose: list[str] = []  # lines since the previous block
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        start, indent, lang = i + 1, match["indent"], match["info"].strip()
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == "```"), None)
        if end is None:
            raise DocError(f"{path.name}:{start}: unclosed code fence")
        if lang not in LANGS:
            raise DocError(f"{path.name}:{start}: code block language {lang or '(none)'!r}; "
                           f"expected one of {', '.join(LANGS)} (see tests/e2e/docblocks.py)")
        body = "\n".join(line.removeprefix(indent) for line in lines[i + 1:end]) + "\n"
        markers = [m for m in map(MARKER.match, prose) if m]
        rest = "\n".join(line for line in prose if not MARKER.match(line))
        if len(markers) > 1:
            raise DocError(f"{path.name}:{start}: more than one runner comment above this block")
        opts = _marker(path, start, markers[0]["kind"], markers[0]["arg"], lang, rest) if markers else {}
        if lang == "yaml" and not opts:
            raise DocError(f"{path.name}:{start}: a yaml block needs `<!-- apply: params.yaml -->` "
                           "or `<!-- not run: reason -->` above it")
        blocks.append(Block(path, start, lang, body, **opts))
        prose = []
        i = end + 1
    return blocks


def port_of(block: Block) -> str | None:
    """The port a background block listens on (its `--port N`)."""
    match = re.search(r"--port[ =](\d+)", block.text)
    return match[1] if match else None
