"""The shape the code keeps: the core free of discord, no import cycles, no lookups by name."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import bot

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "bot"
#: Front ends: the only packages that may import a chat or web library.
FRONT_ENDS = ("bot.discord", "bot.web")


def modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(bot.__path__, "bot.") if info.name)


def module_file(name: str) -> Path:
    path = ROOT.joinpath(*name.split("."))
    return path / "__init__.py" if path.is_dir() else path.with_suffix(".py")


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    """The statements run when the module is imported, ``if`` blocks (``TYPE_CHECKING``
    included) and ``try`` blocks opened; function bodies (deferred imports) left out."""
    found: list[ast.stmt] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.If | ast.Try):
            pending.extend(node.body)
            pending.extend(node.orelse)
            if isinstance(node, ast.Try):
                pending.extend(node.finalbody)
                for handler in node.handlers:
                    pending.extend(handler.body)
    return found


def imports_of(name: str) -> set[str]:
    """Every ``bot.*`` module ``name`` imports when it is imported or type-checked."""
    tree = ast.parse(module_file(name).read_text(encoding="utf-8"))
    known = set(modules())
    found: set[str] = set()
    for node in _module_level(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bot."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "bot" or node.module.startswith("bot."):
                for alias in node.names:  # "from bot.discord import views" names a module
                    sub = f"{node.module}.{alias.name}"
                    found.add(sub if sub in known else node.module)
    return {m for m in found if m in known and m != name}


def test_no_core_module_imports_discord() -> None:
    core = [m for m in modules() if not m.startswith(FRONT_ENDS)]
    assert "bot.app" in core and "bot.curation.changes" in core and "bot.stamps.book" in core
    code = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "    assert 'discord' not in sys.modules, f'{name} imports discord'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_command_line_starts_without_heavy_libraries() -> None:
    # `stampy ask` and every restart pay for what `bot.cli` imports: the optimiser (about a
    # second of imports, used only to fit a model), Discord and the web server load when used.
    code = (
        "import sys, bot.cli\n"
        "heavy = ('scipy', 'discord', 'aiohttp', 'jinja2', 'asyncpg')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True
    )
    assert done.stdout.strip() == "[]"


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of ``graph`` (module -> modules it imports), as paths."""
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def test_no_import_cycles() -> None:
    graph = {name: imports_of(name) for name in modules()}
    assert graph["bot.discord.install"] >= {"bot.discord.bot", "bot.discord.asking"}
    cycles = find_cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_no_lookups_by_name_and_no_untyped_interactions() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in PACKAGE.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "get_cog(" in line or "Interaction[Any]" in line
    ]
    assert not offenders, offenders


def test_objects_are_built_in_one_place() -> None:
    """Only the assembly constructs the store, the curator and the stamp book."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = str(path.relative_to(ROOT))
        # the assembly; the store itself; migrate-db, which copies between two raw stores
        if relative in ("bot/app.py", "bot/transfer_cli.py") or relative.startswith("bot/store/"):
            continue
        text = path.read_text(encoding="utf-8")
        for made in ("Curator(", "StampBook(", "Store.open("):
            if made in text and f"class {made[:-1]}" not in text:
                offenders.append(f"{relative}: {made}")
    assert not offenders, offenders
