"""The house rules of the code's shape, checked on the source: arrows point inward, no cycles.

Every import is read from the syntax tree, lazy ones inside functions included, so a hidden
cycle or a pure module that reaches for an SDK fails here rather than in production.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "auditor"

# The core: pure functions of data. They import neither an adapter nor an Azure SDK.
PURE = {
    "auditor.arm_rules",
    "auditor.attribution",
    "auditor.clouds",
    "auditor.control",
    "auditor.control.c0254",
    "auditor.destinations",
    "auditor.events",
    "auditor.fixes",
    "auditor.inert",
    "auditor.json_input",
    "auditor.messages",
    "auditor.model",
    "auditor.notify.cards",
    "auditor.notify.notices",
    "auditor.remediation",
    "auditor.resource_id",
    "auditor.rule",
    "auditor.settings",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """module -> every module it imports (absolute names), wherever in the file the import is."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        name = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found[name] |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found[name].add(node.module)
                found[name] |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def internal(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    modules = set(graph)
    return {
        name: {target for target in targets if target in modules and target != name} for name, targets in graph.items()
    }


def test_nothing_in_the_auditor_imports_the_simulation():
    offenders = {name for name, targets in imports().items() if any(t.split(".")[0] == "azsim" for t in targets)}
    assert offenders == set()


def test_the_pure_core_imports_no_adapter_and_no_azure_sdk():
    graph = imports()
    for name in PURE:
        # `from auditor.x import Name` is recorded as auditor.x and auditor.x.Name: keep the modules.
        targets = {t for t in graph[name] if t in graph or not t.startswith("auditor")}
        sdks = {t for t in targets if t.split(".")[0] in {"azure", "aiohttp"}}
        adapters = {t for t in targets if t.startswith("auditor") and t not in PURE | {"auditor"}}
        assert (sdks, adapters) == (set(), set()), name


def test_there_is_no_import_cycle_not_even_through_a_lazy_import():
    graph = internal(imports())
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_the_email_sender_loads_no_azure_sdk():
    code = "import sys, auditor.notify.email; print(sorted(m for m in sys.modules if m.startswith('azure')))"
    loaded = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def calls(function: str) -> set[str]:
    """Modules that call `function` by name."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == function:
                    found.add(module_name(path))
    return found


def test_one_credential_per_invocation_is_built_in_one_place():
    """ARM, Storage and Event Grid share the invocation's credential, made with the cloud's authority."""
    assert calls("DefaultAzureCredential") == {"auditor.azure.credentials"}
    # Besides the invocation's credential, only a storage identity named apart gets one of its own.
    assert calls("default_credential") == {"auditor.azure.credentials", "auditor.azure.storage"}
    assert calls("invocation_credential") == {"auditor.pipeline", "auditor.reactions", "auditor.triggers"}


def test_the_auditor_logs_to_its_one_logger_whose_filter_makes_records_inert():
    """A logger's filter sees only records logged to that very logger, not a child's (`auditor.x`)
    propagating to it: every getLogger of the auditor and the function app names `auditor` itself."""
    names = set()
    for path in [*PACKAGE.rglob("*.py"), ROOT / "function_app.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getLogger" and node.args:
                argument = node.args[0]
                names.add(argument.value if isinstance(argument, ast.Constant) else ast.unparse(argument))
    assert names - {"azure"} == {"auditor", "__name__"}  # __name__: auditor/__init__.py, which is `auditor`
