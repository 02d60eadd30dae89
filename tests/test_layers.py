"""The shape of the package: imports only go down the layers of ``pyproject.toml``
(import-linter's layers contract), no private name crosses a module, no module is over 800
lines, and no function body is a copy of another."""

from __future__ import annotations

import ast
import hashlib
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "mirlab"
MAX_LINES = 800


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Run import-linter on the package under ``root`` with the project's contract."""
    script = ("import sys; from importlinter.cli import lint_imports; "
              "sys.exit(lint_imports(config_filename='pyproject.toml', no_cache=True))")
    return subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_imports_only_go_down_the_layers():
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("low, high", [("mirlab/core/checks.py", "mirlab.labs"),
                                       ("mirlab/datasets/corpus.py", "mirlab.nn"),
                                       ("mirlab/chords/evaluation.py", "mirlab.tagging")])
def test_a_backward_import_breaks_the_contract(tmp_path, low, high):
    """The contract is live: one import from a lower layer to a higher one fails it, even
    when hidden inside a function."""
    shutil.copytree(PACKAGE, tmp_path / "mirlab", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    with open(tmp_path / low, "a") as f:
        f.write(f"\n\ndef _backward():\n    import {high}  # noqa: F401\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and high in result.stdout


def _private_imports(path: Path, module: str):
    """``(line, 'from X import _name')`` for names with a leading underscore imported from
    another mirlab module."""
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:  # relative import
                source = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                  + ([node.module] if node.module else []))
            if not source.startswith("mirlab"):
                continue
            for alias in node.names:
                if alias.name.startswith("_") and not alias.name.startswith("__"):
                    yield node.lineno, f"from {source} import {alias.name}"


def test_no_private_name_is_imported_from_another_module():
    found = [f"{module}:{line}: {text}" for path, module in _modules()
             for line, text in _private_imports(path, module)]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_private_import_check_finds_one(tmp_path):
    path = tmp_path / "x.py"
    path.write_text("def f():\n    from mirlab.core.checks import _hidden\n")
    assert list(_private_imports(path, "mirlab.x")) == [
        (2, "from mirlab.core.checks import _hidden")]


def test_no_module_is_over_800_lines():
    long = {module: n for path, module in _modules()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def _body_fingerprints(source: str):
    """``name -> sha1`` of every function body of at least 6 statements, with docstrings
    removed and every identifier and constant replaced by a placeholder (so a copy with
    other names still matches)."""

    class Anonymise(ast.NodeTransformer):
        def visit_Name(self, node):
            return ast.copy_location(ast.Name(id="_", ctx=node.ctx), node)

        def visit_arg(self, node):
            return ast.copy_location(ast.arg(arg="_"), node)

        def visit_Attribute(self, node):
            self.generic_visit(node)
            node.attr = "_"
            return node

        def visit_Constant(self, node):
            return ast.copy_location(ast.Constant(value=0), node)

    out = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = list(node.body)
            if body and isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            n_statements = sum(isinstance(n, ast.stmt) for b in body for n in ast.walk(b))
            if n_statements < 6:
                continue
            tree = Anonymise().visit(ast.Module(body=body, type_ignores=[]))
            out[f"{node.name}:{node.lineno}"] = hashlib.sha1(
                ast.dump(tree).encode()).hexdigest()
    return out


def test_no_function_body_is_a_copy_of_another():
    seen = defaultdict(list)
    for path, module in _modules():
        for name, digest in _body_fingerprints(path.read_text()).items():
            seen[digest].append(f"{module}.{name}")
    copies = [places for places in seen.values() if len(places) > 1]
    assert not copies, f"function bodies that are copies of each other: {copies}"


def test_the_copy_check_sees_a_renamed_copy():
    body = "".join(f"    {v} = {v}0 + {k}\n" for k, v in enumerate("abcdef"))
    source = f"def f(x):\n{body}    return a\n\ndef g(y):\n{body.replace('a', 'q')}    return q\n"
    digests = list(_body_fingerprints(source).values())
    assert len(digests) == 2 and digests[0] == digests[1]
