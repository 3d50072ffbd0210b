"""A saved notebook shows each widget's result without a kernel: executed for real (nbclient, a real
kernel, real jobs), saved as JupyterLab saves it (no widget state), rendered by nbconvert to HTML."""

from __future__ import annotations

import re

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("nbconvert")

SETTLE = ("import time\n"
          "def settle(w, timeout=600):\n"
          "    job = w.run()\n"
          "    assert job is not None, w.error\n"
          "    job.wait(timeout)\n"
          "    while w.state not in ('succeeded', 'failed', 'cancelled'):\n"
          "        time.sleep(0.05)\n"
          "    return w.state")

#: (widget, its constructor, what its snapshot must hold besides the title)
WIDGETS = [
    ("Molecules", "MoleculeWidget('CCO ethanol\\nc1ccccc1O phenol', num_conformers=3, device='cpu')",
     [r"<img [^>]*alt=.the molecules \(2D\)", r"<td>phenol</td>"]),
    ("Molecules", "MoleculeWidget('MKTAYIAKQR', mode='fold', tiny=True, device='cpu')",
     [r"<img [^>]*alt=.pLDDT per residue", r"<img [^>]*src=.data:image/png;base64,", r"mean_plddt"]),
    ("Grasping", "GraspWidget('can', num_grasps=4, device='cpu')",
     [r"<img [^>]*alt=.the grasps seen from above", r"<th>held</th>"]),
    ("Pick and place", "PlaceWidget('put the ball behind the can', device='cpu')",
     [r"<img [^>]*src=.data:image/png;base64,", r"<td>success</td><td>True</td>"]),
    ("Generation", "GenerationWidget('a red cube', steps=2, width=64, height=64, tiny=True, device='cpu')",
     [r"<img [^>]*alt=.image image_0", r"<img [^>]*src=.data:image/jpeg;base64,", r"a red cube",
      r"<td>tiny-sd</td>"]),
]


def test_each_widget_leaves_a_snapshot_that_nbconvert_shows_without_a_kernel(tmp_path):
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    cells = [nbformat.v4.new_code_cell("from workbench.widgets import GenerationWidget, GraspWidget, "
                                       "MoleculeWidget, PlaceWidget\n" + SETTLE)]
    for k, (_, make, _) in enumerate(WIDGETS):
        cells += [nbformat.v4.new_code_cell(f"w{k} = {make}\nw{k}"), nbformat.v4.new_code_cell(f"settle(w{k})")]
    cells.append(nbformat.v4.new_code_cell("w_idle = MoleculeWidget('CCO')\nw_idle"))  # never run
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    # as JupyterLab saves by default: outputs, no widget state
    NotebookClient(nb, timeout=900, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    for k in range(len(WIDGETS)):
        assert nb.cells[2 + 2 * k].outputs[0]["data"]["text/plain"] == "'succeeded'", nb.cells[2 + 2 * k].outputs
    path = tmp_path / "saved.ipynb"
    nbformat.write(nb, path)
    saved = nbformat.read(path, as_version=4)
    assert "widgets" not in saved.metadata
    page, _ = HTMLExporter().from_notebook_node(saved)
    # (nbconvert writes the markup back with double quotes, attributes in its own order)
    snapshots = re.findall(r"<div class=.wb-snapshot. data-state=.(\w+).>(.*?)<div class=.wb-note.>", page, re.S)
    assert len(snapshots) == len(WIDGETS) + 1, len(snapshots)
    for (title, make, needs), (state, body) in zip(WIDGETS, snapshots, strict=False):
        assert state == "succeeded" and body.startswith(f"<div><b>{title}</b> · succeeded: "), (make, body[:200])
        for pattern in needs:
            assert re.search(pattern, body), (make, pattern, body[:600])
    assert snapshots[-1][0] == "idle" and "Not run yet" in page  # a widget never run says so
    assert "model not found" not in page and "Error displaying widget" not in page
    # the live view is still there for a front end with a kernel
    assert all("application/vnd.jupyter.widget-view+json" in nb.cells[1 + 2 * k].outputs[0]["data"]
               for k in range(len(WIDGETS)))
