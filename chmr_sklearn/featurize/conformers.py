"""3D modality: one seeded conformer per molecule, described by RDKit's 3D descriptors.

UniMol weights cannot be downloaded here, so CHMR's 3D view is a distance-geometry conformer
(RDKit ``EmbedMolecule``) summarised by AUTOCORR3D, RDF, MORSE, WHIM, USR and the PMI/NPR/shape
descriptors. Embedding can fail; such a molecule gets NaN descriptors and ``conformer_ok = 0``
(a zero latent downstream), never an exception.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._inputs import to_mol
from ._base import MoleculeFeaturizer
from ._conformer_descriptors import DESCRIPTOR_BLOCKS, DESCRIPTOR_FAMILIES, ConformerDescriptors, families

__all__ = ["ConformerFeaturizer", "DESCRIPTOR_BLOCKS", "DESCRIPTOR_FAMILIES"]


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
        return self._descriptors().width

    def _descriptors(self) -> ConformerDescriptors:
        """The per-molecule computation with these settings (what workers run); checks ``descriptors``."""
        return ConformerDescriptors(self.method, self.add_hydrogens, self.optimize, families(self.descriptors),
                                    self.force_tol, self.max_attempts, self.max_atoms, self.random_state)

    def _featurize_chunk(self, entries):
        conf = self._descriptors()  # an unknown family raises here
        rows = np.full((len(entries), conf.width), np.nan)
        valid = np.zeros(len(entries), dtype=bool)
        for i, entry in enumerate(entries):
            mol = to_mol(entry)  # before BlockLogs: to_mol re-enables logging on exit
            if mol is None:
                continue
            valid[i] = True
            conf.fill_row(mol, rows[i])
        return rows, valid

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """``autocorr3d_0..79, rdf_0..209, morse_0..223, whim_0..113, usr_0..11``, the 11
        shape scalars (``pmi1`` ... ``pbf``), then ``conformer_ok``; the selected families only."""
        return np.asarray(self._descriptors().names, dtype=object)
