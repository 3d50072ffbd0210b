"""Fold overhead: the workbench fold task against the raw transformers forward.

One run, same process, the tiny random ESMFold (same architecture as facebook/esmfold_v1):
- raw: `EsmForProteinFolding.forward` on the aatype tensor + `output_to_pdb`, then the same
  files a user would write by hand with Biopython (PDB and mmCIF), per sequence;
- workbench: the `fold` task through `LocalDevice.submit` (job, store, chain split, PDB and
  mmCIF via Biopython), plots off so both sides produce the same structure files;
- reload: the first job on a fresh model cache (loads the model) against the second.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time

SEQ = ("MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG" * 4)[:300]
REPEATS = 7


def write_raw(pdb_text: str, out_dir: str) -> None:
    import io

    from Bio.PDB import MMCIFIO, PDBIO, PDBParser

    structure = PDBParser(QUIET=True).get_structure("raw", io.StringIO(pdb_text))
    for writer, name in ((PDBIO(), "raw.pdb"), (MMCIFIO(), "raw.cif")):
        writer.set_structure(structure)
        writer.save(os.path.join(out_dir, name))


def main() -> int:
    os.environ.setdefault("WORKBENCH_HOME", tempfile.mkdtemp(prefix="wb-bench-"))
    import torch

    from workbench import models
    from workbench.scheduling import registry
    from workbench.tasks.molecules.fold import FoldRequest, _aatype, tiny_esmfold

    torch.set_num_threads(max(1, torch.get_num_threads()))
    cpu = registry.get("cpu")
    # first vs second job: the first builds the model, the second must reuse it
    models.unload("esmfold")
    t0 = time.perf_counter()
    cpu.submit("fold", FoldRequest(sequences=(SEQ[:50],), tiny=True, plots=False)).result(300)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    cpu.submit("fold", FoldRequest(sequences=(SEQ[:50],), tiny=True, plots=False)).result(300)
    second = time.perf_counter() - t0

    raw_model = tiny_esmfold(seed=0)
    out_dir = tempfile.mkdtemp(prefix="wb-bench-raw-")
    aatype = torch.tensor([_aatype(SEQ)])
    raw, wb = [], []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        with torch.inference_mode():
            out = raw_model(aatype, attention_mask=torch.ones_like(aatype),
                            position_ids=torch.arange(len(SEQ))[None])
        write_raw(raw_model.output_to_pdb(out)[0], out_dir)
        raw.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cpu.submit("fold", FoldRequest(sequences=(SEQ,), tiny=True, plots=False)).result(300)
        wb.append(time.perf_counter() - t0)
    overhead = statistics.median(wb) / statistics.median(raw) - 1
    print(f"{len(SEQ)} residues: raw forward+PDB median {statistics.median(raw):.3f} s, workbench job "
          f"median {statistics.median(wb):.3f} s; first job {first:.3f} s, second {second:.3f} s", file=sys.stderr)
    print(json.dumps({"name": "fold_overhead_vs_raw_forward", "value": round(overhead, 4), "target": 0.05,
                      "better": "lower"}))
    print(json.dumps({"name": "fold_second_call_speedup", "value": round(first / second, 2), "target": 10,
                      "better": "higher"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
