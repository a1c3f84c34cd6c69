"""The 3D modality's descriptors of one molecule: a seeded conformer, RDKit only (worker-side code).

:class:`~chmr_sklearn.featurize.ConformerFeaturizer` (the scikit-learn transformer, where the
method and its defaults are documented) and
:func:`~chmr_sklearn.featurize.molecular.featurize_molecular` both fill rows with
:class:`ConformerDescriptors`; it imports no scikit-learn, so worker processes start faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
from rdkit.Chem import rdMolDescriptors as rdmd

__all__ = ["ConformerDescriptors", "DESCRIPTOR_BLOCKS", "DESCRIPTOR_FAMILIES", "families"]

_SCALARS = (
    ("pmi1", rdmd.CalcPMI1),
    ("pmi2", rdmd.CalcPMI2),
    ("pmi3", rdmd.CalcPMI3),
    ("npr1", rdmd.CalcNPR1),
    ("npr2", rdmd.CalcNPR2),
    ("radius_of_gyration", rdmd.CalcRadiusOfGyration),
    ("inertial_shape_factor", rdmd.CalcInertialShapeFactor),
    ("eccentricity", rdmd.CalcEccentricity),
    ("asphericity", rdmd.CalcAsphericity),
    ("spherocity_index", rdmd.CalcSpherocityIndex),
    ("pbf", rdmd.CalcPBF),
)
_VECTORS = (
    ("autocorr3d", 80, rdmd.CalcAUTOCORR3D),
    ("rdf", 210, rdmd.CalcRDF),
    ("morse", 224, rdmd.CalcMORSE),
    ("whim", 114, rdmd.CalcWHIM),
    ("usr", 12, rdmd.GetUSR),
)
#: (name, width) of each descriptor block, in output order; ``conformer_ok`` follows them.
DESCRIPTOR_BLOCKS: tuple[tuple[str, int], ...] = tuple((n, w) for n, w, _ in _VECTORS) + tuple(
    (n, 1) for n, _ in _SCALARS
)


def _shape(mol: Chem.Mol) -> list[float]:
    return [func(mol) for _, func in _SCALARS]


#: family -> (its column names, the function computing those values from a Mol with a conformer)
_FAMILIES = {**{n: ([f"{n}_{i}" for i in range(w)], func) for n, w, func in _VECTORS},
             "shape": ([n for n, _ in _SCALARS], _shape)}
#: Families ``descriptors=`` selects from: the five vector blocks and ``"shape"`` (the 11 scalars).
DESCRIPTOR_FAMILIES: tuple[str, ...] = tuple(_FAMILIES)


def families(descriptors: Sequence[str] | None) -> tuple[str, ...]:
    """The selected families in output order; ``ValueError`` naming any unknown one.

    Examples
    --------
    >>> families(["shape", "usr"]), len(families(None))
    (('usr', 'shape'), 6)
    """
    if descriptors is None:
        return DESCRIPTOR_FAMILIES
    chosen = [descriptors] if isinstance(descriptors, str) else list(descriptors)
    unknown = sorted(set(chosen) - set(DESCRIPTOR_FAMILIES))
    if unknown or not chosen:
        raise ValueError(f"descriptors must be None or a non-empty selection of {list(DESCRIPTOR_FAMILIES)}; "
                         f"got {descriptors!r}.")
    return tuple(f for f in DESCRIPTOR_FAMILIES if f in chosen)


@dataclass(frozen=True)
class ConformerDescriptors:
    """Embed one conformer per molecule and describe it; settings as :class:`ConformerFeaturizer`'s.

    ``descriptors`` is the tuple of selected families (:func:`families` checks a user's
    selection). A row holds the descriptors then ``conformer_ok``; any failure leaves NaN
    descriptors and ``conformer_ok = 0`` (never an exception).

    Examples
    --------
    >>> import numpy as np
    >>> from rdkit import Chem
    >>> conf = ConformerDescriptors(descriptors=("usr", "shape"))
    >>> row = np.zeros(conf.width)
    >>> conf.fill_row(Chem.MolFromSmiles("CCO"), row)
    >>> conf.width, float(row[-1]), bool(np.isfinite(row).all())
    (24, 1.0, True)
    """

    method: str = "dg"
    add_hydrogens: bool = False
    optimize: str | None = None
    descriptors: tuple[str, ...] = DESCRIPTOR_FAMILIES
    force_tol: float = 1e-3
    max_attempts: int = 2
    max_atoms: int | None = 150
    random_state: int = 0

    @property
    def names(self) -> list[str]:
        """Column names: the selected families' descriptors, then ``conformer_ok``."""
        return [name for family in self.descriptors for name in _FAMILIES[family][0]] + ["conformer_ok"]

    @property
    def width(self) -> int:
        """Columns of a row (``conformer_ok`` included)."""
        return sum(len(_FAMILIES[f][0]) for f in self.descriptors) + 1

    def fill_row(self, mol: Chem.Mol, row: np.ndarray) -> None:
        """Descriptors + ``conformer_ok`` of one parsed molecule into ``row`` (never raises)."""
        with rdBase.BlockLogs():
            mol = self._prepare(mol)
            ok = mol is not None and self._embed(mol) and self._describe(mol, row[:-1])
        if not ok:
            row[:-1] = np.nan
        row[-1] = float(ok)

    # ---- steps ------------------------------------------------------------------------------
    def embed_params(self, attempt: int) -> rdDistGeom.EmbedParameters:
        """RDKit's embedding parameters of attempt ``attempt`` (0: the seeded one, then random coordinates).

        Make them afresh for every molecule: RDKit's ``EmbedMolecule`` keeps state in the object
        it is given, so parameters reused across molecules made a molecule's conformer depend on
        the molecules embedded before it (and so on the batch and on ``n_jobs``).
        """
        if self.method == "etkdg":
            params = rdDistGeom.ETKDGv3()
        else:
            params = rdDistGeom.EmbedParameters()
            params.useExpTorsionAnglePrefs = False
            params.useBasicKnowledge = False
        # RDKit's generator treats seeds 0 and 1 alike, hence the shift into [1, 2**31 - 1].
        params.randomSeed = (int(self.random_state) + attempt) % (2**31 - 1) + 1
        params.useRandomCoords = attempt > 0
        params.optimizerForceTol = float(self.force_tol)
        params.numThreads = 1  # parallelism is n_jobs'; keeps results independent of cores
        return params

    def _prepare(self, mol: Chem.Mol) -> Chem.Mol | None:
        """A private copy with or without hydrogens; ``None`` when over ``max_atoms``."""
        if self.max_atoms is not None and mol.GetNumHeavyAtoms() > self.max_atoms:
            return None
        if self.add_hydrogens:
            return Chem.AddHs(mol)
        if mol.GetNumAtoms() != mol.GetNumHeavyAtoms():
            return Chem.RemoveHs(mol)
        return Chem.Mol(mol)  # never put a conformer on the caller's Mol

    def _embed(self, mol: Chem.Mol) -> bool:
        """Embed in place; ``True`` on success."""
        for attempt in range(self.max_attempts):
            try:
                if rdDistGeom.EmbedMolecule(mol, self.embed_params(attempt)) >= 0:
                    break
            except RuntimeError:  # RDKit invariant violations, e.g. bounds of some metal chelates
                return False
        else:
            return False
        if self.optimize is None:
            return True
        return self._relax(mol)

    def _relax(self, mol: Chem.Mol) -> bool:
        """Force-field relaxation in place; ``False`` when it cannot be done.

        A molecule neither MMFF94 nor UFF can fully type (UFF would silently run with atoms
        left out), or whose optimisation raises, counts as a failed conformer
        (``conformer_ok = 0``): the caller asked for relaxed geometries, and an unrelaxed one
        passed off as relaxed would be a silent fallback.
        """
        try:
            if self.optimize == "mmff" and rdForceFieldHelpers.MMFFHasAllMoleculeParams(mol):
                return rdForceFieldHelpers.MMFFOptimizeMolecule(mol, maxIters=500) >= 0
            if not rdForceFieldHelpers.UFFHasAllMoleculeParams(mol):
                return False
            return rdForceFieldHelpers.UFFOptimizeMolecule(mol, maxIters=500) >= 0
        except Exception:  # noqa: BLE001 - RDKit raises assorted types; recorded in the flag
            return False

    def _describe(self, mol: Chem.Mol, out: np.ndarray) -> bool:
        """Write the selected descriptors of ``mol``'s conformer into ``out``; ``True`` if all finite."""
        try:
            pos = 0
            for family in self.descriptors:
                names, func = _FAMILIES[family]
                out[pos: pos + len(names)] = func(mol)
                pos += len(names)
        except Exception:  # noqa: BLE001 - e.g. USR needs >= 3 atoms
            return False
        return bool(np.isfinite(out).all())
