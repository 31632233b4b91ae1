"""The notebooks in ``notebooks/`` run top to bottom in a fresh kernel, in their quick mode.

Each notebook's first code cell is tagged ``parameters`` and sets ``QUICK = False``; as
papermill would, the test adds a cell ``QUICK = True`` right after it (a short scenario, two
replications, the serial executor), then executes every cell with nbclient in the ``python3``
kernel, started from this interpreter, with the notebook's own folder as the working
directory (as Jupyter does). Any error in any cell fails the test, and every cell that draws
a figure must have shown it as an image.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat import NotebookNode

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 300
FIGURE_CALL = re.compile(r"\bplots\.(traffic|timeline|compare_bars|cost_vs_slo|sweep_heatmap)\(")


def _read(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=4)


def _parameters_index(notebook: NotebookNode) -> int:
    """The index of the first code cell, which must be the one tagged ``parameters``."""
    first_code = next(i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code")
    assert "parameters" in notebook.cells[first_code].metadata.get("tags", []), (
        "the first code cell must be tagged 'parameters'"
    )
    return first_code


def _quick(notebook: NotebookNode) -> NotebookNode:
    """The notebook with ``QUICK = True`` injected after its parameters cell.

    A second injected cell checks that the kernel runs this interpreter's environment (the
    ``python3`` kernelspec could resolve to another Python).
    """
    index = _parameters_index(notebook)
    injected = [
        nbformat.v4.new_code_cell("QUICK = True"),
        nbformat.v4.new_code_cell(
            f"import sys\nassert sys.prefix == {sys.prefix!r}, sys.executable\ndel sys"
        ),
    ]
    for cell in injected:
        cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells[index + 1 : index + 1] = injected
    return notebook


def _has_image(cell: NotebookNode) -> bool:
    return any("image/png" in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_is_stored_without_outputs_and_has_a_quick_parameter(path: Path) -> None:
    notebook = _read(path)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: clear the outputs before committing"
            assert cell.execution_count is None, f"{path.name}: clear the execution counts"
    parameters = notebook.cells[_parameters_index(notebook)].source
    assert re.search(r"^QUICK = False$", parameters, flags=re.MULTILINE), parameters
    text = path.read_text(encoding="utf-8")
    for local_path in (str(ROOT), str(Path.home())):
        assert local_path not in text, f"{path.name} names a path of this machine: {local_path}"


def test_there_are_notebooks() -> None:
    assert [path.name for path in NOTEBOOKS] == [
        "01_quick_start.ipynb",
        "02_policy_comparison.ipynb",
        "03_capacity_planning_sweep.ipynb",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_in_quick_mode(path: Path) -> None:
    notebook = _quick(_read(path))
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, on an error
    drawing = [cell for cell in notebook.cells if FIGURE_CALL.search(cell.source)]
    assert drawing, f"{path.name} draws no figure"
    for cell in drawing:
        assert _has_image(cell), f"{path.name}: no image shown by the cell\n{cell.source}"
