"""PNG figures for a folded structure: the PAE heat map and the pLDDT profile."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _wrapped(title: str, width: int) -> str:
    """A title on as many lines as the figure's width needs (a long name was cut at the edges)."""
    import textwrap

    return "\n".join(textwrap.wrap(title, width)) or title


def pae_png(pae: np.ndarray, path: Path, title: str, boundaries: list[int], labels: list[str] | None = None,
            unit: str = "residue") -> Path:
    """The PAE heat map with a line at each chain boundary; `labels` names the chains at their middles."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.4 if labels else 4.2, 3.8 if labels else 3.6), dpi=110)
    im = ax.imshow(pae, cmap="Greens_r", vmin=0, vmax=max(30.0, float(np.nanmax(pae))))
    for b in boundaries:
        ax.axhline(b - 0.5, color="k", lw=0.8)
        ax.axvline(b - 0.5, color="k", lw=0.8)
    if labels:
        edges = [0, *boundaries, len(pae)]
        ticks = [(a + b - 1) / 2 for a, b in zip(edges, edges[1:])]
        ax.set_xticks(ticks, labels, fontsize=7)
        ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel(f"scored {unit}")
    ax.set_ylabel(f"aligned {unit}")
    ax.set_title(_wrapped(f"{title}: predicted aligned error", 46), fontsize=9)
    fig.colorbar(im, ax=ax, label="Å")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plddt_png(plddt: np.ndarray, path: Path, title: str, boundaries: list[int]) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 2.6), dpi=110)
    x = np.arange(1, len(plddt) + 1)
    for lo, hi, colour in ((90, 100, "#0053d6"), (70, 90, "#65cbf3"), (50, 70, "#ffdb13"), (0, 50, "#ff7d45")):
        ax.axhspan(lo, hi, color=colour, alpha=0.15, lw=0)
    ax.plot(x, plddt, color="k", lw=1)
    for b in boundaries:
        ax.axvline(b + 0.5, color="grey", ls="--", lw=0.8)
    ax.set_ylim(0, 100)
    ax.set_xlim(1, max(2, len(plddt)))
    ax.set_xlabel("residue")
    ax.set_ylabel("pLDDT")
    ax.set_title(_wrapped(f"{title}: per-residue confidence", 64), fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
