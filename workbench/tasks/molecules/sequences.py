"""Protein sequences in: plain strings, `A:B` complexes, FASTA; normalised and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.contract.errors import InputError
from workbench.paths import is_file

#: the 20 standard amino acids plus X (unknown), as ESMFold reads them
ALPHABET = set("ACDEFGHIKLMNPQRSTVWYX")


@dataclass(frozen=True)
class ProteinInput:
    name: str
    chains: tuple[str, ...]  #: one sequence per chain

    @property
    def length(self) -> int:
        return sum(len(c) for c in self.chains)


def normalise(sequence: str, name: str) -> tuple[str, ...]:
    """Upper case, whitespace and digits removed, `:` or `/` separating chains."""
    text = re.sub(r"[\s\d*]", "", sequence).upper()
    chains = tuple(c for c in re.split(r"[:/]", text))
    if not text or not any(chains):
        raise InputError(f"{name}: the sequence is empty.")
    for i, chain in enumerate(chains):
        if not chain:
            raise InputError(f"{name}: chain {i + 1} is empty (two separators in a row?).")
        bad = sorted(set(chain) - ALPHABET)
        if bad:
            pos = chain.index(bad[0]) + 1
            raise InputError(
                f"{name}: illegal letter{'s' if len(bad) > 1 else ''} {', '.join(bad)} "
                f"(first at position {pos} of chain {i + 1}); use the 20 standard amino acids or X.")
    return chains


def read_fasta(path: str | Path) -> list[tuple[str, str]]:
    p = Path(path)
    if not is_file(p):
        raise InputError(f"No such file: {p}")
    records: list[tuple[str, str]] = []
    name, parts = None, []
    try:
        text = p.read_text()
    except UnicodeDecodeError:
        raise InputError(f"{p.name} is not a text FASTA file.") from None
    except OSError as exc:
        raise InputError(f"Cannot read {p.name}: {exc.strerror or exc}.") from None
    for line in text.splitlines():
        if line.startswith(">"):
            if name is not None:
                records.append((name, "".join(parts)))
            name, parts = line[1:].strip().split()[0] if line[1:].strip() else f"seq{len(records) + 1}", []
        elif line.strip() and not line.startswith(";"):
            if name is None:
                raise InputError(f"{p.name} is not FASTA: the first record has no '>' header.")
            parts.append(line.strip())
    if name is not None:
        records.append((name, "".join(parts)))
    if not records:
        raise InputError(f"{p.name} holds no sequences.")
    return records


def read_proteins(sequences: tuple[str, ...], fasta: str | None, names: tuple[str, ...]) -> list[ProteinInput]:
    raw = [(names[i] if i < len(names) else f"seq{i + 1}", s) for i, s in enumerate(sequences)]
    if fasta:
        raw.extend(read_fasta(fasta))
    if not raw:
        raise InputError("Give at least one protein sequence (or a FASTA file).")
    return [ProteinInput(name, normalise(seq, name)) for name, seq in raw]
