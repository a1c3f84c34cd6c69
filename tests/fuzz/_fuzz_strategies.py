"""Hypothesis strategies for the fuzz tests: real molecules, their mutations, and junk.

Real molecules come from RDKit's WEHI set (10,000 screening compounds); mutations are made
with RDKit on them (random SMILES, isotopes, charges, radicals, stereo, salts, explicit H,
Kekulé forms, truncations), so every example is either a real chemistry edge case or text
that looks like one. The oracle :func:`expected_valid` decides validity with RDKit directly,
independently of the package's own parser.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from rdkit import Chem, rdBase
from rdkit.Chem.EnumerateStereoisomers import (
    EnumerateStereoisomers,
    StereoEnumerationOptions,
)

from chmr_sklearn.datasets import load_wehi_molecules

WEHI: list[str] = load_wehi_molecules().data.tolist()

#: Salts, mixtures, charged, radical, isotopic, stereo and unusual species (all valid SMILES).
TRICKY: list[str] = [
    "[Na+].[Cl-]", "CC(=O)[O-].[Na+]", "[NH4+].[Cl-]", "[O-][N+](=O)c1ccccc1", "C[N+](C)(C)C.[I-]",
    "[CH3]", "[CH2]", "[O][O]", "[CH]1C=CC=C1", "C[C@H](N)C(=O)O", "C[C@@H](O)[C@H](N)C(=O)O",
    "F/C=C/F", "F/C=C\\F", "OC=[C@]=CF", "F[Pt@SP1](Cl)(Br)I", "[13CH4]", "[2H]C([2H])([2H])O",
    "[18F]c1ccccc1", "[235U]", "[Fe+2]", "[Fe]", "[He]", "[H][H]", "[H+]", "O", "C", "N#N",
    "[C-]#[O+]", "C12C3C4C1C5C2C3C45", "*C(=O)O", "[*]CC[*]", "[1*]CCO", "Cl[Gd](Cl)Cl",
    "c1ccc2c(c1)ccc1ccccc12", "[O-]S(=O)(=O)[O-].[Mg+2]", "CCO.CCO", "O.O.O.[Cu+2].[O-]S([O-])(=O)=O",
]
#: Valid molecules distance geometry cannot embed (impossible stereo on small fused rings).
UNEMBEDDABLE: list[str] = ["[C@H]12C[C@@H]1C2", "C[C@]12CC[C@]1(C)C2", "F[C@]12C[C@]1(F)C2"]
#: Huge molecules (>= 200 heavy atoms): a 70-residue polyglycine, polyethylene, a macrocycle.
HUGE: list[str] = [
    "NCC(=O)" + "NCC(=O)" * 69 + "O",
    "C" * 250,
    "C1" + "C" * 210 + "C1",
    "c1ccccc1" + "OCC" * 70 + "O",
]
#: Entries the package must call invalid (with the reason as a comment).
INVALID: list[Any] = [
    "", "   ", "xyz", "C1CC", "c1cccc1", "C(C", "CC)", "[Xx]", "C%", "not a smiles",
    None, float("nan"), 5, 3.5, b"CCO", {"smiles": "CCO"}, Chem.Mol(),
]
_SMILES_ALPHABET = "CNOSPFIBrlcnos()[]=#@+-.%/\\0123456789Hh*: "


def expected_valid(entry: Any) -> bool:
    """Independent oracle: is ``entry`` a molecule RDKit can parse (sanitized, >= 1 atom)?"""
    if isinstance(entry, Chem.Mol):
        if entry.GetNumAtoms() == 0:
            return False
        copy = Chem.Mol(entry)
        with rdBase.BlockLogs():
            try:
                return Chem.SanitizeMol(copy, catchErrors=True) == Chem.SanitizeFlags.SANITIZE_NONE
            except Exception:  # noqa: BLE001
                return False
    if not isinstance(entry, str) or not entry.strip():
        return False
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(entry.strip())
    return mol is not None and mol.GetNumAtoms() > 0


@st.composite
def mutated_smiles(draw) -> str:
    """A real WEHI molecule, rewritten by one RDKit mutation (the result may be invalid)."""
    mol = Chem.MolFromSmiles(draw(st.sampled_from(WEHI)))
    seed = draw(st.integers(0, 2**31 - 2))
    atom = seed % mol.GetNumAtoms()
    kind = draw(st.sampled_from(
        ["random", "isotope", "charge", "radical", "salt", "stereo", "explicit_h", "kekule", "truncate"]))
    with rdBase.BlockLogs():
        if kind == "random":
            return Chem.MolToRandomSmilesVect(mol, 1, randomSeed=seed)[0]
        if kind in ("isotope", "charge", "radical"):
            rw = Chem.RWMol(mol)
            a = rw.GetAtomWithIdx(atom)
            if kind == "isotope":
                a.SetIsotope(draw(st.integers(1, 300)))
            elif kind == "charge":
                a.SetFormalCharge(draw(st.integers(-3, 3)))
            else:
                a.SetNumRadicalElectrons(draw(st.integers(1, 3)))
                a.SetNoImplicit(True)
            return Chem.MolToSmiles(rw)
        if kind == "salt":
            ion = draw(st.sampled_from(["[Na+]", "[Cl-]", "[K+].[K+]", "O", "[Br-]", "CC(=O)[O-]"]))
            return Chem.MolToSmiles(mol) + "." + ion
        if kind == "stereo":
            options = StereoEnumerationOptions(maxIsomers=4, unique=True, rand=seed, tryEmbedding=False)
            isomers = list(EnumerateStereoisomers(mol, options=options))
            return Chem.MolToSmiles(isomers[seed % len(isomers)])
        if kind == "explicit_h":
            return Chem.MolToSmiles(Chem.AddHs(mol))
        if kind == "kekule":
            Chem.Kekulize(mol, clearAromaticFlags=True)
            return Chem.MolToSmiles(mol, kekuleSmiles=True)
        text = Chem.MolToSmiles(mol)
        return text[: seed % max(1, len(text))]


#: Text that looks like SMILES, and arbitrary unicode text.
smiles_like_text = st.text(alphabet=_SMILES_ALPHABET, min_size=0, max_size=25)
any_text = st.text(max_size=20)


@st.composite
def as_mol(draw, smiles: st.SearchStrategy) -> Any:
    """Sometimes pass the molecule as an RDKit Mol (sanitized or not) instead of a string."""
    text = draw(smiles)
    how = draw(st.sampled_from(["str", "str", "mol", "unsanitized"]))
    if how == "str" or not isinstance(text, str):
        return text
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(text, sanitize=how == "mol")
    return text if mol is None else mol


def entries(*, huge: bool = True) -> st.SearchStrategy:
    """One input entry: real, mutated, tricky, huge, invalid, or random text."""
    options = [
        st.sampled_from(WEHI), mutated_smiles(), st.sampled_from(TRICKY + UNEMBEDDABLE), st.sampled_from(INVALID),
        smiles_like_text, any_text,
    ]
    if huge:
        options.append(st.sampled_from(HUGE))
    return as_mol(st.one_of(options))


@st.composite
def batches(draw, *, max_size: int = 6, huge: bool = True) -> list:
    """A small batch of entries, sometimes with duplicated rows."""
    rows = draw(st.lists(entries(huge=huge), min_size=1, max_size=max_size))
    n_dup = draw(st.integers(0, 2))
    for _ in range(n_dup):
        rows.insert(draw(st.integers(0, len(rows))), rows[draw(st.integers(0, len(rows) - 1))])
    return rows



def budget(factor: float, minimum: int = 1):
    """``settings`` with ``factor`` x the active profile's examples, at least ``minimum``.

    Cheap tests take a multiple of the profile; the slow tests ask for a floor (200), which
    ``HYPOTHESIS_PROFILE=ci-long`` raises further.
    """
    from hypothesis import settings

    return settings(max_examples=max(minimum, int(settings.default.max_examples * factor)))
