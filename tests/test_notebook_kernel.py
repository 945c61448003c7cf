"""The fixed notebooks run top to bottom in a real Jupyter kernel (nbclient + ipykernel)
and train: the tf_keras one on the thread route its fixes chose, the Keras 3 ones with their
loader settings where Keras 3 takes them (in threads, for datasets the notebook defines,
after one pass with ``--unsafe-fixes``).

The Keras 3 notebook declares its Keras with ``%pip install "keras>=3"``, which the
fixer reads and which must stay in the notebook; run here, it must not install
anything. The test kernel gets an IPython profile (``IPYTHONDIR``) whose start-up file
replaces the ``%pip`` magic with one that only says it did not run, so the line is
executed as the magic it is and the environment is left alone (``PIP_NO_INDEX`` is set
too, should the real magic ever run).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from notebook_helpers import code_sources, copy_fixture, parses_on_its_own

from safeloader.fix.cli import main

pytestmark = pytest.mark.usefixtures("outside_the_repository")

OFFLINE_PIP = '''\
def _pip(line):
    print(f"pip not run in the tests: pip {line}")


get_ipython().register_magic_function(_pip, "line", "pip")
'''


@pytest.fixture
def offline_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kernels started by this test cannot install packages and keep TensorFlow quiet."""
    startup = tmp_path / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-offline-pip.py").write_text(OFFLINE_PIP)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")


def execute(path: Path) -> list[str]:
    """Run the notebook ``path`` in a fresh kernel (an error in a cell fails the test);
    return what each code cell printed to stdout."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return ["".join(output.text for output in cell.outputs if output.get("name") == "stdout")
            for cell in notebook.cells if cell.cell_type == "code"]


@pytest.mark.usefixtures("offline_kernel")
def test_the_fixed_tf_keras_notebook_trains_in_a_kernel(tmp_path: Path) -> None:
    notebook = copy_fixture("train_tf_keras.ipynb", tmp_path)
    assert main(["--unsafe-fixes", str(notebook)]) == 0
    assert all(parses_on_its_own(source) for source in code_sources(notebook))
    printed = execute(notebook)
    assert printed[2] == "True\n"
    assert printed[8].startswith("1\nCPU times:")


@pytest.mark.usefixtures("offline_kernel")
def test_the_fixed_keras3_notebook_trains_in_a_kernel(tmp_path: Path) -> None:
    notebook = copy_fixture("train_keras3.ipynb", tmp_path)
    assert main([str(notebook)]) == 0
    sources = code_sources(notebook)
    assert sources[0] == '%pip install "keras>=3"'
    assert "Batches(images, labels, 8, workers=2, use_multiprocessing=False)" in sources[4]
    printed = execute(notebook)
    assert printed[0] == 'pip not run in the tests: pip install "keras>=3"\n'
    assert printed[5] == "1\n"


@pytest.mark.usefixtures("offline_kernel")
def test_the_keras3_notebook_fixed_in_one_pass_trains_in_threads_in_a_kernel(
    tmp_path: Path,
) -> None:
    notebook = copy_fixture("processes_keras3.ipynb", tmp_path)
    assert main(["--unsafe-fixes", str(notebook)]) == 0
    assert main(["--check", "--unsafe-fixes", str(notebook)]) == 0
    sources = code_sources(notebook)
    assert "Frames(images, labels, 8, workers=2, use_multiprocessing=False)" in sources[4]
    assert "Batches(images, labels, 16, workers=2, use_multiprocessing=False)" in sources[6]
    printed = execute(notebook)
    assert printed[4] == "1\n"
    assert printed[6].endswith("1\n")
