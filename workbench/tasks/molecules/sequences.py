"""Protein sequences in: plain strings, `A:B` complexes, FASTA; normalised and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from workbench.contract.errors import InputError
from workbench.contract.names import safe_name
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


#: what a sequence may hold besides letters: ASCII whitespace, digits (line numbers in pasted FASTA), `*`
_IGNORED = re.compile(r"[ \t\r\n0-9*]")


def first_non_ascii(text: str) -> int | None:
    """Where the first character outside ASCII is, or None. Sequences are read as ASCII letters only:
    `str.upper()` would turn `ß` into `SS` and `ﬁ` into `FI`, silently changing the molecule."""
    return next((i for i, c in enumerate(text) if ord(c) > 127), None)


def normalise(sequence: str, name: str) -> tuple[str, ...]:
    """Upper case, ASCII whitespace and digits removed, `:` or `/` separating chains. Only ASCII letters
    are read: `str.upper()` would turn `ß` into `SS` and `ﬁ` into `FI`, and `\\d` would drop Arabic-Indic
    digits, each silently changing the protein."""
    at = first_non_ascii(sequence)
    if at is not None:
        foreign = sequence[at]
        raise InputError(f"{name}: {foreign!r} (U+{ord(foreign):04X}, character {at + 1}) is not an amino-acid "
                         "letter; use the 20 standard one-letter codes A-Z or X, in ASCII.")
    text = _IGNORED.sub("", sequence).upper()
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
    name: str | None = None
    parts: list[str] = []
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
    proteins = [ProteinInput(name, normalise(seq, name)) for name, seq in raw]
    stems: dict[str, str] = {}
    for protein in proteins:  # each protein's files are named after it: two alike would overwrite each other
        stem = file_stem(protein.name)
        if stem in stems:
            same = "the same name" if stems[stem] == protein.name else f"names that make the same file name {stem!r}"
            raise InputError(f"Two proteins have {same} ({stems[stem]!r} and {protein.name!r}); their files "
                             "would overwrite each other. Give each a distinct name.")
        stems[stem] = protein.name
    return proteins


def file_stem(name: str) -> str:
    """The file-name stem of a protein's outputs (`names.safe_name`: letters, digits, `-_.`, no leading dot)."""
    return safe_name(name, fallback="protein")
