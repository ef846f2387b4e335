"""`traincycle --help` lists every command on one line; every command's help carries an example
whose arguments the command accepts (parsed, not run)."""

from __future__ import annotations

import shlex

import click
import pytest
from click.testing import CliRunner

from traincycle.cli import main

Named = tuple[tuple[str, ...], click.Command]


def commands(group: click.Group = main, path: tuple[str, ...] = ()) -> list[Named]:
    """Every command and sub-command under `group`, with its path of names."""
    found = []
    for name, cmd in sorted(group.commands.items()):
        found.append(((*path, name), cmd))
        if isinstance(cmd, click.Group):
            found.extend(commands(cmd, (*path, name)))
    return found


def examples(help_text: str) -> list[str]:
    """The command lines under an `Example:` heading of a help text."""
    lines = help_text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Example:")
    out = []
    for line in lines[start + 1:]:
        if not line.strip():
            break
        out.append(line.strip())
    return out


def help_of(*path: str) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_top_level_help_lists_every_command_on_one_untruncated_line():
    listing = help_of().split("Commands:\n", 1)[1].splitlines()
    names = [line.split()[0] for line in listing if line.strip()]
    assert names == sorted(main.commands)
    for line in listing:
        assert not line.rstrip().endswith("..."), line


@pytest.mark.parametrize(("path", "cmd"), commands(), ids=[" ".join(p) for p, _ in commands()])
def test_every_command_help_has_an_example_the_command_accepts(path, cmd):
    text = help_of(*path)
    lines = examples(text)
    assert lines, f"traincycle {' '.join(path)} --help: no example"
    for line in lines:
        words = shlex.split(line)
        assert words[:1 + len(path)] == ["traincycle", *path], line
        if isinstance(cmd, click.Group):
            sub = cmd.commands[words[1 + len(path)]]
            sub.make_context(words[1 + len(path)], words[2 + len(path):])
        else:
            cmd.make_context(path[-1], words[1 + len(path):])  # raises on an unknown option


def test_group_help_for_subcommands_is_one_line_each():
    for path, cmd in commands():
        if isinstance(cmd, click.Group):
            listing = help_of(*path).split("Commands:\n", 1)[1].splitlines()
            assert all(not line.rstrip().endswith("...") for line in listing), listing
