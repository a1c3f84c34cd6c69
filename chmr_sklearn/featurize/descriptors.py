"""Whole-molecule physicochemical descriptors: 79 RDKit 2D descriptors (no conformer).

Not one of CHMR's pretraining modalities: the downstream heads append these columns, scaled,
to the embedding (``CHMRClassifier(descriptors=...)``). Properties such as logP, polar surface
area or ring counts are sums over the whole molecule that a folded fingerprint only hints at,
and they drive the physical-chemistry endpoints (solubility, lipophilicity, hydration energy).
"""

from __future__ import annotations

import numpy as np
from rdkit.Chem import Fragments, rdMolDescriptors

from .._inputs import to_mol
from ._base import MoleculeFeaturizer

__all__ = ["DescriptorFeaturizer", "DESCRIPTOR_NAMES", "FRAGMENT_NAMES"]

# rdMolDescriptors.Properties' names, fixed here so that a newer RDKit that adds properties
# does not change the columns. All are computed in C++ (~1 ms a molecule with the VSA bins).
_PROPERTIES = (
    "exactmw", "amw", "lipinskiHBA", "lipinskiHBD", "NumRotatableBonds", "NumHBD", "NumHBA", "NumHeavyAtoms",
    "NumAtoms", "NumHeteroatoms", "NumAmideBonds", "FractionCSP3", "NumRings", "NumAromaticRings",
    "NumAliphaticRings", "NumSaturatedRings", "NumHeterocycles", "NumAromaticHeterocycles",
    "NumSaturatedHeterocycles", "NumAliphaticHeterocycles", "NumSpiroAtoms", "NumBridgeheadAtoms",
    "NumAtomStereoCenters", "NumUnspecifiedAtomStereoCenters", "labuteASA", "tpsa", "CrippenClogP", "CrippenMR",
    "chi0v", "chi1v", "chi2v", "chi3v", "chi4v", "chi0n", "chi1n", "chi2n", "chi3n", "chi4n", "hallKierAlpha",
    "kappa1", "kappa2", "kappa3", "Phi",
)
# Surface area binned by Gasteiger charge, molar refractivity and logP contribution (MOE-style).
_VSA = (("PEOE_VSA", rdMolDescriptors.PEOE_VSA_, 14), ("SMR_VSA", rdMolDescriptors.SMR_VSA_, 10),
        ("SlogP_VSA", rdMolDescriptors.SlogP_VSA_, 12))
DESCRIPTOR_NAMES: tuple[str, ...] = _PROPERTIES + tuple(f"{name}{i + 1}" for name, _, n in _VSA for i in range(n))
# RDKit's 85 functional-group counts (rdkit.Chem.Fragments, SMARTS matches), fixed as above. Acids, amines,
# amidines, phenols, tetrazoles...: the ionizable groups that move logD at pH 7.4 away from logP.
FRAGMENT_NAMES: tuple[str, ...] = (
    "fr_Al_COO", "fr_Al_OH", "fr_Al_OH_noTert", "fr_ArN", "fr_Ar_COO", "fr_Ar_N", "fr_Ar_NH", "fr_Ar_OH", "fr_COO",
    "fr_COO2", "fr_C_O", "fr_C_O_noCOO", "fr_C_S", "fr_HOCCN", "fr_Imine", "fr_NH0", "fr_NH1", "fr_NH2", "fr_N_O",
    "fr_Ndealkylation1", "fr_Ndealkylation2", "fr_Nhpyrrole", "fr_SH", "fr_aldehyde", "fr_alkyl_carbamate",
    "fr_alkyl_halide", "fr_allylic_oxid", "fr_amide", "fr_amidine", "fr_aniline", "fr_aryl_methyl", "fr_azide",
    "fr_azo", "fr_barbitur", "fr_benzene", "fr_benzodiazepine", "fr_bicyclic", "fr_diazo", "fr_dihydropyridine",
    "fr_epoxide", "fr_ester", "fr_ether", "fr_furan", "fr_guanido", "fr_halogen", "fr_hdrzine", "fr_hdrzone",
    "fr_imidazole", "fr_imide", "fr_isocyan", "fr_isothiocyan", "fr_ketone", "fr_ketone_Topliss", "fr_lactam",
    "fr_lactone", "fr_methoxy", "fr_morpholine", "fr_nitrile", "fr_nitro", "fr_nitro_arom",
    "fr_nitro_arom_nonortho", "fr_nitroso", "fr_oxazole", "fr_oxime", "fr_para_hydroxylation", "fr_phenol",
    "fr_phenol_noOrthoHbond", "fr_phos_acid", "fr_phos_ester", "fr_piperdine", "fr_piperzine", "fr_priamide",
    "fr_prisulfonamd", "fr_pyridine", "fr_quatN", "fr_sulfide", "fr_sulfonamd", "fr_sulfone", "fr_term_acetylene",
    "fr_tetrazole", "fr_thiazole", "fr_thiocyan", "fr_thiophene", "fr_unbrch_alkane", "fr_urea",
)


def _describe(mol, properties, fragments: bool) -> list[float]:
    values = list(properties.ComputeProperties(mol))
    for _, func, _ in _VSA:
        values.extend(func(mol))
    if fragments:
        values.extend(getattr(Fragments, name)(mol) for name in FRAGMENT_NAMES)
    return values


class DescriptorFeaturizer(MoleculeFeaturizer):
    """79 RDKit 2D descriptors of each molecule: size, polarity, logP, rings, shape indices, VSA bins.

    The 43 properties of :class:`rdkit.Chem.rdMolDescriptors.Properties` (molecular weight,
    H-bond donors / acceptors, rotatable bonds, ring counts, TPSA, Crippen logP and molar
    refractivity, Labute ASA, chi / kappa shape indices, ...) and the 36 MOE-style surface-area
    bins (PEOE_VSA 1-14, SMR_VSA 1-10, SlogP_VSA 1-12). Raw values in float64, unscaled: the
    estimators scale them on their training rows. All are computed in C++, about 1 ms a
    molecule.

    Parameters
    ----------
    fragments : bool, default=False
        Also count RDKit's 85 functional groups (:data:`FRAGMENT_NAMES`, ``rdkit.Chem.Fragments``:
        carboxylic acids, primary / secondary / tertiary amines, amidines, phenols, tetrazoles, ...)
        after the 79 descriptors: about 0.4 ms a molecule more (SMARTS matches in Python).
    smiles_col : str or int, default="smiles"
        Column holding the molecules when ``X`` is a DataFrame (name) or 2-D array (position).
    on_invalid : {"raise", "nan"}, default="raise"
        ``"raise"``: one ``ValueError`` listing every invalid row. ``"nan"``: NaN rows.
    n_jobs : int, default=None
        Worker processes; molecules are parsed inside the workers. ``-1`` uses every core.
    verbose : int, default=0
        Show a progress bar.

    Attributes
    ----------
    n_features_in_ : int
        Columns of the input seen in ``fit`` (1 for a list of SMILES).
    feature_names_in_ : ndarray of str
        Column names, when ``fit`` got a DataFrame.

    Examples
    --------
    >>> from chmr_sklearn.featurize import DescriptorFeaturizer
    >>> featurizer = DescriptorFeaturizer()
    >>> D = featurizer.fit_transform(["CCO", "c1ccccc1O"])
    >>> D.shape, D.dtype.name
    ((2, 79), 'float64')
    >>> names = list(featurizer.get_feature_names_out())
    >>> D[:, names.index("NumAromaticRings")].tolist(), round(float(D[0, names.index("CrippenClogP")]), 4)
    ([0.0, 1.0], -0.0014)
    """

    _parameter_constraints = {**MoleculeFeaturizer._parameter_constraints, "fragments": ["boolean"]}

    def __init__(self, *, fragments=False, smiles_col="smiles", on_invalid="raise", n_jobs=None, verbose=0):
        self.fragments = fragments
        self.smiles_col = smiles_col
        self.on_invalid = on_invalid
        self.n_jobs = n_jobs
        self.verbose = verbose

    @property
    def n_features_out(self) -> int:
        """Number of output columns (79, or 164 with ``fragments=True``)."""
        return len(self._names())

    def _names(self) -> tuple[str, ...]:
        return DESCRIPTOR_NAMES + (FRAGMENT_NAMES if self.fragments else ())

    def _featurize_chunk(self, entries):
        properties = rdMolDescriptors.Properties(list(_PROPERTIES))
        rows = np.zeros((len(entries), self.n_features_out), dtype=np.float64)
        valid = np.zeros(len(entries), dtype=bool)
        for i, entry in enumerate(entries):
            mol = to_mol(entry)
            if mol is not None:
                rows[i] = _describe(mol, properties, bool(self.fragments))
                valid[i] = True
        return rows, valid

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """The descriptor names, in column order (:data:`DESCRIPTOR_NAMES`, then :data:`FRAGMENT_NAMES`)."""
        return np.asarray(self._names(), dtype=object)
