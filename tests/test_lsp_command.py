"""`cnai lsp` as a command: a clear message without pygls, and no pygls for other commands."""

from __future__ import annotations

import os
import subprocess
import sys

from testpaths import EXAMPLES, ROOT


def python(code: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT / "compiler")]))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": path}, timeout=60, check=False)


def test_without_pygls_it_says_what_to_install() -> None:
    result = python("import sys\nsys.modules['pygls'] = None  # as if not installed\n"
                    "from cnai.cli import main\nsys.exit(main(['lsp']))")
    assert result.returncode == 2
    assert result.stderr == "cnai lsp needs pygls and lsprotocol: pip install 'cnai[lsp]'\n"
    assert result.stdout == ""


def test_other_commands_do_not_import_the_language_server() -> None:
    result = python("import sys\nfrom cnai.cli import main\n"
                    f"status = main(['check', {str(EXAMPLES / 'sweep.cnai')!r}])\n"
                    "print(status, sorted(m for m in sys.modules if m.split('.')[0] in "
                    "('pygls', 'lsprotocol') or m.startswith('cnai.authoring.lsp_')))")
    assert result.stdout == "0 []\n", result.stderr
