"""Lines are counted one way everywhere: as flake8 and Python's tokenizer count them.

``split_lines`` is the one splitter (a CR, a CR LF and an LF each end a
line; a form feed and the other characters ``str.splitlines`` also cuts at
do not), checked against real flake8 and ``ast``. SLD103's unsafe fix moves
exactly the right statements in CR-only, CR LF and mixed files, and the
fixed mixed file trains under ``spawn`` with real tf_keras.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from safeloader.analysis import analyze_source
from safeloader.analysis.calls import candidate_lines
from safeloader.fix.cli import main as safeloader_fix
from safeloader.source_text import split_lines

pytestmark = pytest.mark.usefixtures("outside_the_repository")

SRC = Path(__file__).resolve().parent.parent / "src"

#: one statement a line, each line ended differently; the characters that
#: ``str.splitlines`` also cuts at sit in comments, where Python allows them
ODD_LINES = (
    "first_name\r\n",
    "second_name  # a form feed \f and a vertical tab \v stay in the line\r",
    "third_name  # file/group/record separators \x1c\x1d\x1e stay too\n",
    "fourth_name  # NEL \x85, line and paragraph separators \u2028\u2029 as well\r",
    "\r\n",
    "fifth_name",
)


def test_split_lines_cuts_where_flake8_and_the_tokenizer_do(tmp_path: Path) -> None:
    source = "".join(ODD_LINES)
    assert split_lines(source) == list(ODD_LINES)
    assert len(source.splitlines()) > len(ODD_LINES)  # what split_lines must not do
    names = {node.id: node.lineno for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Name)}
    expected = {name: number for number, line in enumerate(split_lines(source), start=1)
                for name in names if line.startswith(name)}
    assert names == expected and len(names) == 5

    script = tmp_path / "odd.py"
    script.write_bytes(source.encode("utf-8"))
    flake8 = subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--select", "F821",
         "--format", "%(row)d %(text)s", str(script)],
        capture_output=True, text=True, timeout=120,
    )
    reported = {line.split("'")[1]: int(line.split()[0]) for line in flake8.stdout.splitlines()}
    assert reported == names, flake8.stdout + flake8.stderr


def test_candidate_lines_count_every_line_break() -> None:
    text = "a = 1\rb = 2\r\nmodel.fit(\n  x)\f\rmodel.fit_generator(g)\n"
    assert candidate_lines(text) == [3, 5]


_DEFINITIONS = '''\
import multiprocessing

import numpy as np
import tf_keras as keras


class Batches(keras.utils.Sequence):
    def __init__(self, images):
        self.images = images

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.images[index * 4:index * 4 + 4], np.zeros((4, 1), "float32")


'''

#: the statements SLD103's fix moves under the ``__main__`` guard
_TRAINING = '''\
multiprocessing.set_start_method("spawn", force=True)
images = np.random.rand(8, 1)
model = keras.Sequential([keras.layers.Dense(1, input_shape=(1,))])
model.compile(optimizer="sgd", loss="mse")
model.fit(Batches(images), epochs=1, verbose=0, workers=2, use_multiprocessing=True)
print("trained")
'''

#: a tf_keras script that starts worker processes from module level under
#: ``spawn``: unguarded, every worker re-runs it and dies while bootstrapping
SCRIPT = _DEFINITIONS + _TRAINING

GUARDED = _DEFINITIONS + 'if __name__ == "__main__":\n' + textwrap.indent(_TRAINING, "    ")

#: old-Mac line breaks in the class body: five lines that ``count("\\n")`` missed,
#: so the fix once moved only ``fit`` and ``print``, left the start method,
#: the data and the model outside (each spawned worker re-ran them) and
#: reported success
OLD_MAC_CLASS = ("    def __init__(self, images):\n        self.images = images\n\n"
                 "    def __len__(self):\n        return 2\n")


def _old_mac(text: str) -> str:
    return text.replace(OLD_MAC_CLASS, OLD_MAC_CLASS.replace("\n", "\r"))


VARIANTS = {
    "cr_only": lambda text: text.replace("\n", "\r"),
    "crlf": lambda text: text.replace("\n", "\r\n"),
    "one_old_mac_line": lambda text: text.replace("import numpy as np\n",
                                                  "import numpy as np\r"),
    "old_mac_lines_in_the_class": _old_mac,
}


def _fixed(script: Path) -> bytes:
    assert safeloader_fix(["--unsafe-fixes", "--select", "SLD103", script.name]) == 0
    return script.read_bytes()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_sld103_moves_exactly_the_training_whatever_the_line_breaks(
    variant: str, tmp_path: Path
) -> None:
    ends = VARIANTS[variant]
    source = ends(SCRIPT)
    (finding,) = analyze_source(source, None)
    assert finding.code == "SLD103" and split_lines(source)[finding.line - 1].startswith(
        "model.fit(")
    script = tmp_path / "train.py"
    script.write_bytes(source.encode())
    assert _fixed(script) == ends(GUARDED).encode()
    assert _fixed(script) == ends(GUARDED).encode()  # a second run changes nothing


def test_the_fixed_old_mac_script_trains_under_spawn(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_bytes(_old_mac(SCRIPT).encode())
    fixed = _fixed(script)
    assert fixed == _old_mac(GUARDED).encode()
    env = {**os.environ, "PYTHONPATH": str(SRC), "TF_CPP_MIN_LOG_LEVEL": "3"}
    run = subprocess.run([sys.executable, script.name], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.splitlines()[-1] == "trained", run.stderr
