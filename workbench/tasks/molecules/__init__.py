"""Molecular structure: conformer ensembles (RDKit) and protein structure (ESMFold)."""
