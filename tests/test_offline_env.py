"""Every module that imports Chroma or a Hugging Face library at its top sets the offline and
telemetry variables first (``reports_qa.logs``), whatever imports it alone.

Chroma reads ``ANONYMIZED_TELEMETRY`` and the hub libraries ``HF_HUB_OFFLINE`` when they are
imported, so an import sorter moving ``import reports_qa.logs`` below them turns telemetry on
and lets a model lookup go to the network. Other modules import ``reports_qa.logs`` earlier in a
whole run, so only a fresh interpreter per module shows it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from reports_qa.settings import PROJECT_ROOT

PACKAGES = ("assistant", "eval", "ingest", "reports_qa", "ui", "vectorstore")
WATCHED = {"chromadb", "sentence_transformers", "transformers", "huggingface_hub", "langchain_chroma"}
VARIABLES = ("ANONYMIZED_TELEMETRY", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def importers() -> list[str]:
    """Product modules with a module-level import of a watched library."""
    found = []
    for package in PACKAGES:
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            roots = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
            roots |= {(node.module or "").split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
            if roots & WATCHED:
                found.append(".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts))
    return found


PROBE = f"""
import importlib.abc, os, sys
seen = {{}}
class Watch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in {sorted(WATCHED)!r} and name not in seen:
            seen[name] = {{v: os.environ.get(v) for v in {VARIABLES!r}}}
        return None
sys.meta_path.insert(0, Watch())
importlib.import_module(sys.argv[1])
print(repr(seen))
"""


def test_the_scan_finds_the_modules_that_matter():
    assert "vectorstore.store" in importers()


@pytest.mark.parametrize("module", importers())
def test_offline_and_telemetry_variables_are_set_before_the_library_loads(module):
    env = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    done = subprocess.run([sys.executable, "-c", PROBE, module], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert seen, f"{module} imported none of {sorted(WATCHED)}"
    for library, values in seen.items():
        assert values == {"ANONYMIZED_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}, (
            f"{module} loads {library} before reports_qa.logs sets {values}")
