"""The kernel's shape, checked: small functions and classes, no tangled branches, few `Any`.

Issue 11 set these limits when the engine and the alert service were split; this test keeps
them. The layering itself (controller/ imports neither dashboard, simulators nor devices) is
import-linter's contract in pyproject.toml, run by `make lint` and by test_layering.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from radon.complexity import cc_rank, cc_visit

ROOT = Path(__file__).resolve().parents[2]
KERNEL = ROOT / "controller"
MAX_FUNCTION_LINES = 60
MAX_CLASS_LINES = 400
# 229 `Any` annotations in controller/ before issue 11 split the engine (the issue counted 216), 15
# after. The issue asked for at least half fewer; this ceiling keeps them from creeping back.
MAX_ANY = 20


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(KERNEL.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"


def _span(node: ast.AST) -> int:
    return (getattr(node, "end_lineno", 0) or 0) - getattr(node, "lineno", 0) + 1


def test_no_kernel_function_is_longer_than_60_lines() -> None:
    long = [f"{_where(p, n)} {n.name} ({_span(n)} lines)"
            for p, tree in _modules() for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and _span(n) > MAX_FUNCTION_LINES]
    assert long == []


def test_no_kernel_class_is_longer_than_400_lines() -> None:
    big = [f"{_where(p, n)} {n.name} ({_span(n)} lines)"
           for p, tree in _modules() for n in ast.walk(tree)
           if isinstance(n, ast.ClassDef) and _span(n) > MAX_CLASS_LINES]
    assert big == []


def test_nothing_in_the_kernel_is_radon_grade_d_or_worse() -> None:
    tangled = []
    for path in sorted(KERNEL.rglob("*.py")):
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if cc_rank(block.complexity) >= "D":
                tangled.append(f"{path.relative_to(ROOT)}:{block.lineno} {block.fullname} "
                               f"{cc_rank(block.complexity)} ({block.complexity})")
    assert tangled == []


def _annotations(tree: ast.Module) -> Iterator[ast.expr]:
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            yield node.annotation
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            yield node.returns


def _any_in(annotation: ast.expr) -> int:
    # With `from __future__ import annotations` some annotations are strings in the source.
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        annotation = ast.parse(annotation.value, mode="eval").body
    return sum(1 for n in ast.walk(annotation)
               if (isinstance(n, ast.Name) and n.id == "Any")
               or (isinstance(n, ast.Attribute) and n.attr == "Any"))


def test_any_in_kernel_annotations_is_at_most_half_of_what_it_was() -> None:
    count = sum(_any_in(a) for _, tree in _modules() for a in _annotations(tree))
    assert count <= MAX_ANY, f"{count} `Any` annotations in controller/ (limit {MAX_ANY})"
