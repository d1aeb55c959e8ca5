"""What each distribution is, for the packaging tests: its folder, its packages, and the
third-party modules its declared dependencies provide (the import name of each)."""

from __future__ import annotations

import ast
import dataclasses
import pathlib
import sys

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]


@dataclasses.dataclass(frozen=True)
class Distribution:
    folder: str
    packages: frozenset[str]
    third_party: frozenset[str]  # import names its dependencies provide (envspec: the shared one)

    @property
    def root(self) -> pathlib.Path:
        return REPO_ROOT / self.folder


SIDECAR = Distribution(
    "sidecar",
    frozenset({"stigg_sidecar"}),
    frozenset(
        {
            "stigg_envspec",
            "grpc",
            "grpc_health",
            "grpc_reflection",
            "google",
            "aiohttp",
            "redis",
            "yaml",
        }
    ),
)
OPERATOR = Distribution(
    "operator",
    frozenset({"stigg_operator"}),
    frozenset(
        {"stigg_envspec", "kopf", "kubernetes", "cryptography", "jsonpatch", "aiohttp", "prometheus_client"}
    ),
)
ENVSPEC = Distribution("envspec", frozenset({"stigg_envspec"}), frozenset())


def imported_modules(path: pathlib.Path) -> set[str]:
    """The absolute modules a file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def top_level(module: str) -> str:
    return module.split(".", 1)[0]


def is_stdlib(module: str) -> bool:
    # _typeshed exists only for type checkers (imported under TYPE_CHECKING).
    return top_level(module) in sys.stdlib_module_names or top_level(module) in {"__future__", "_typeshed"}
