"""3D modality: one seeded conformer per molecule, described by RDKit's 3D descriptors.

UniMol weights cannot be downloaded here, so CHMR's 3D view is a distance-geometry conformer
(RDKit ``EmbedMolecule``) summarised by AUTOCORR3D, RDF, MORSE, WHIM, USR and the PMI/NPR/shape
descriptors. Embedding can fail; such a molecule gets NaN descriptors and ``conformer_ok = 0``
(a zero latent downstream), never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np
from rdkit import Chem, rdBase
from rdkit.Chem import rdDistGeom, rdForceFieldHelpers
from rdkit.Chem import rdMolDescriptors as rdmd
from sklearn.utils._param_validation import Interval, StrOptions

from .._inputs import to_mol
from ._base import MoleculeFeaturizer

__all__ = ["ConformerFeaturizer", "DESCRIPTOR_BLOCKS", "DESCRIPTOR_FAMILIES"]

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


def _families(descriptors: Sequence[str] | None) -> tuple[str, ...]:
    """The selected families in output order; ``ValueError`` naming any unknown one."""
    if descriptors is None:
        return DESCRIPTOR_FAMILIES
    chosen = [descriptors] if isinstance(descriptors, str) else list(descriptors)
    unknown = sorted(set(chosen) - set(DESCRIPTOR_FAMILIES))
    if unknown or not chosen:
        raise ValueError(f"descriptors must be None or a non-empty selection of {list(DESCRIPTOR_FAMILIES)}; "
                         f"got {descriptors!r}.")
    return tuple(f for f in DESCRIPTOR_FAMILIES if f in chosen)


class ConformerFeaturizer(MoleculeFeaturizer):
    """RDKit 3D descriptors of one seeded conformer per molecule (CHMR's 3D modality).

    Each molecule is embedded once with a fixed seed (``random_state``); when the embedding
    fails it is retried from random coordinates (``useRandomCoords=True``, the seed shifted by
    the attempt number) up to ``max_attempts`` attempts in all. The conformer is
    optionally relaxed with MMFF94 (UFF when MMFF lacks parameters) and described by 651
    numbers: AUTOCORR3D (80), RDF (210), MORSE (224), WHIM (114), USR (12), then PMI1-3, NPR1-2,
    radius of gyration, inertial shape factor, eccentricity, asphericity, spherocity index and
    PBF (the ``"shape"`` family). ``descriptors=`` keeps a subset of these families, in that
    order. A last column ``conformer_ok`` is 1.0 when the molecule got descriptors.

    A molecule that cannot be embedded, has more than ``max_atoms`` heavy atoms, or whose
    descriptors fail or are not finite (e.g. fewer than 3 atoms, where USR is undefined) gets
    NaN descriptors and ``conformer_ok = 0.0``; it never raises. An *invalid SMILES* row with
    ``on_invalid="nan"`` is NaN everywhere, ``conformer_ok`` included, so "not a molecule"
    (NaN) stays distinguishable from "a molecule without a conformer" (0).

    **Default: ``method="dg"``, ``add_hydrogens=False``.** Measured on 300 real molecules
    (RDKit's ``wehi_mols.csv``), one core, embedding + descriptors (see
    ``benchmarks/results/featurize.md``): ETKDGv3 with hydrogens ~80 mol/s, ETKDGv3 on heavy
    atoms ~235 mol/s, plain DG with hydrogens ~225 mol/s, plain DG on heavy atoms ~880 mol/s
    (descriptors alone: ~2,700 mol/s on heavy atoms, ~1,000 with hydrogens). None of the 300
    failed to embed in any setting. CHMR's whole embedding (fingerprint ~1,700 mol/s + graph
    ~4,500 mol/s + conformer + a small GNN) must reach 300 mol/s *cold* on 2 cores. With
    heavy-atom ETKDGv3 the three featurizers alone cost ~5 ms per molecule per core
    (~400 mol/s on 2 perfectly used cores, before worker start-up and the GNN): no margin.
    Plain DG on heavy atoms brings that to ~2 ms (~1,000 mol/s on 2 cores). The descriptors
    are global shape summaries feeding a learned projector, so ETKDG's torsional realism buys
    little here; choose ``method="etkdg", add_hydrogens=True`` when conformer quality matters
    more than throughput (~11x slower; ETKDG is parametrised for molecules with hydrogens).

    Parameters
    ----------
    add_hydrogens : bool, default=False
        Embed and describe the molecule with explicit hydrogens (slower, more realistic).
        ``False`` removes explicit hydrogens: descriptors describe heavy atoms only.
    method : {"dg", "etkdg"}, default="dg"
        ``"etkdg"``: ETKDGv3 (experimental torsion preferences + basic knowledge).
        ``"dg"``: plain distance geometry (``useExpTorsionAnglePrefs=False,
        useBasicKnowledge=False``), several times faster.
    optimize : {None, "mmff", "uff"}, default=None
        Force-field relaxation of the conformer (``"mmff"`` falls back to UFF for molecules
        MMFF94 cannot type). Off by default: with the default embedding it cuts throughput
        about 2.5-3x (measured ~180 mol/s with MMFF, ~230 with UFF, ~520 without, one core).
        A molecule the force field cannot type completely, or whose optimisation fails, gets
        ``conformer_ok = 0`` (never an unrelaxed conformer passed off as relaxed).
    descriptors : sequence of str or None, default=None
        Descriptor families to compute, from ``DESCRIPTOR_FAMILIES`` (``"autocorr3d"``,
        ``"rdf"``, ``"morse"``, ``"whim"``, ``"usr"``, ``"shape"``); None: all 651 values. RDF
        and MORSE are ~75 % of the descriptor time (measured ~0.14 and ~0.15 ms per molecule,
        one core, against ~0.09 ms for the other four together).
    force_tol : float, default=1e-3
        Force tolerance of distance geometry's error-function minimisation (RDKit's
        ``optimizerForceTol``; 1e-3 is RDKit's default). A coarser 1e-2 embeds ~30 % faster
        (measured 0.47 vs 0.66 ms per molecule, heavy-atom DG) with a slightly less converged
        geometry.
    max_attempts : int, default=2
        Embedding attempts per molecule: the first from RDKit's default start, the others
        from random coordinates.
    max_atoms : int or None, default=150
        Molecules with more heavy atoms are not embedded (``conformer_ok = 0``): embedding
        time grows steeply with size and peptides / macrocycles of that size fail often.
        ``None`` embeds everything.
    random_state : int, default=0
        Seed of the embedding (passed to RDKit as ``random_state + 1``: RDKit's generator
        makes seeds 0 and 1 identical). The same seed gives bit-identical output, whatever
        ``n_jobs``; every molecule is embedded with the same seed, independently of the others.
    smiles_col : str or int, default="smiles"
        Column holding the molecules when ``X`` is a DataFrame (name) or 2-D array (position).
    on_invalid : {"raise", "nan"}, default="raise"
        ``"raise"``: one ``ValueError`` listing every invalid row. ``"nan"``: all-NaN rows.
    n_jobs : int, default=None
        Worker processes; molecules are parsed and embedded inside the workers. ``-1`` uses
        every core.
    verbose : int, default=0
        Show a progress bar.

    Attributes
    ----------
    n_features_in_ : int
        Columns of the input seen in ``fit`` (1 for a list of SMILES).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame.

    Notes
    -----
    RDKit's per-molecule log lines (embedding warnings, UFF typing messages) are silenced.
    Each embedding runs single-threaded (``numThreads=1``); parallelism comes from ``n_jobs``.

    Examples
    --------
    >>> from chmr_sklearn.featurize import ConformerFeaturizer
    >>> conf = ConformerFeaturizer().fit_transform(["CCO", "c1ccccc1O"])
    >>> conf.shape, conf[:, -1].tolist()
    ((2, 652), [1.0, 1.0])
    >>> ConformerFeaturizer(on_invalid="nan").fit_transform(["CCO", "xyz"])[1, -3:]
    array([nan, nan, nan])
    >>> ConformerFeaturizer(max_atoms=2).fit_transform(["CCO"])[0, -2:]  # too big: flag 0
    array([nan,  0.])
    """

    _parameter_constraints = {
        **MoleculeFeaturizer._parameter_constraints,
        "add_hydrogens": ["boolean"],
        "method": [StrOptions({"dg", "etkdg"})],
        "optimize": [StrOptions({"mmff", "uff"}), None],
        "descriptors": ["array-like", StrOptions(set(DESCRIPTOR_FAMILIES)), None],
        "force_tol": [Interval(Real, 0, None, closed="neither")],
        "max_attempts": [Interval(Integral, 1, None, closed="left")],
        "max_atoms": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": [Interval(Integral, 0, 2**31 - 2, closed="both")],
    }

    def __init__(self, add_hydrogens=False, method="dg", optimize=None, *, descriptors=None, force_tol=1e-3,
                 max_attempts=2, max_atoms=150, random_state=0, smiles_col="smiles", on_invalid="raise",
                 n_jobs=None, verbose=0):
        self.add_hydrogens = add_hydrogens
        self.method = method
        self.optimize = optimize
        self.descriptors = descriptors
        self.force_tol = force_tol
        self.max_attempts = max_attempts
        self.max_atoms = max_atoms
        self.random_state = random_state
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def n_features_out(self) -> int:
        """Number of output columns (the selected descriptors, 651 for all, + ``conformer_ok``)."""
        return sum(len(_FAMILIES[f][0]) for f in _families(self.descriptors)) + 1

    # ---- steps (each usable alone, e.g. by the benchmark) ---------------------------------
    def _embed_params(self, attempt: int) -> rdDistGeom.EmbedParameters:
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

    def _embed(self, mol: Chem.Mol, params: list) -> bool:
        """Embed in place; ``True`` on success."""
        for p in params:
            try:
                if rdDistGeom.EmbedMolecule(mol, p) >= 0:
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
            for family in _families(self.descriptors):
                names, func = _FAMILIES[family]
                out[pos: pos + len(names)] = func(mol)
                pos += len(names)
        except Exception:  # noqa: BLE001 - e.g. USR needs >= 3 atoms
            return False
        return bool(np.isfinite(out).all())

    def _featurize_chunk(self, entries):
        rows = np.full((len(entries), self.n_features_out), np.nan)  # an unknown family raises here
        valid = np.zeros(len(entries), dtype=bool)
        params = [self._embed_params(k) for k in range(self.max_attempts)]
        for i, entry in enumerate(entries):
            mol = to_mol(entry)  # before BlockLogs: to_mol re-enables logging on exit
            if mol is None:
                continue
            valid[i] = True
            self._fill_row(mol, params, rows[i])
        return rows, valid

    def _fill_row(self, mol: Chem.Mol, params: list, row: np.ndarray) -> None:
        """Descriptors + ``conformer_ok`` of one parsed molecule into ``row`` (never raises)."""
        with rdBase.BlockLogs():
            mol = self._prepare(mol)
            ok = mol is not None and self._embed(mol, params) and self._describe(mol, row[:-1])
        if not ok:
            row[:-1] = np.nan
        row[-1] = float(ok)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``autocorr3d_0..79, rdf_0..209, morse_0..223, whim_0..113, usr_0..11``, the 11
        shape scalars (``pmi1`` ... ``pbf``), then ``conformer_ok``; the selected families only."""
        names = [name for family in _families(self.descriptors) for name in _FAMILIES[family][0]]
        return np.asarray(names + ["conformer_ok"], dtype=object)
