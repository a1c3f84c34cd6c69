"""Bundled registry of every data file the loaders know: where it lives, where it comes from.

Each entry maps a registry *name* to

``path``
    Location relative to ``data_home``, the same layout as the project's ``shared/data``
    (e.g. ``"moleculenet/bbbp.csv.gz"``).
``url``
    Public source (a ``raw.githubusercontent.com`` URL pinned to a commit), or ``None`` for a
    file derived locally from other registry files (``derived_from`` + ``recipe`` say how).
``sha256``
    Hash of the file as stored in ``shared/data``.
``content_sha256``
    Hash of the *uncompressed* payload. Plain upstream files were gzip-compressed locally
    (``gzip -9 -n``), which no Python gzip reproduces byte for byte, so a fresh download is
    verified on its content and a stored file is accepted when either hash matches.
``repo``, ``commit``, ``source_path``
    The upstream GitHub location the URL is built from.
``licence``
    Shown in the loaders' ``DESCR``.
``derived_from``, ``recipe``
    For derived files only: the registry names they are built from and how.

All hashes were computed from the stored files and cross-checked against the git blobs of the
pinned upstream commits (see ``shared/data/PROVENANCE.md``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["REGISTRY"]

_RAW = "https://raw.githubusercontent.com"

_LICENCES = {
    "GLambard/Molecules_Dataset_Collection": "MIT (collection); data: MoleculeNet (Wu et al. 2018) and original authors",
    "chemprop/chemprop": "MIT (chemprop repository); data: MoleculeNet / EPA ToxCast",
    "liugangcode/InfoAlign": "no licence stated in the repository (Liu et al., arXiv 2406.12056)",
    "dhimmel/lincs": "repository CC0; LINCS L1000 derivatives CC BY 4.0",
    "dhimmel/drugbank": "DrugBank content CC BY-NC 4.0 (non-commercial use only)",
    "isarnassiri/CMEA": "GPL-2 (R package CMEA)",
    "cytomining/cytominer-eval": "BSD-3-Clause",
    "molML/MoleculeACE": "MIT (MoleculeACE); data: ChEMBL (CC BY-SA 3.0)",
}


def _entry(
    *,
    path: str,
    sha256: str,
    content_sha256: str,
    repo: str | None = None,
    commit: str | None = None,
    source_path: str | None = None,
    licence: str | None = None,
    derived_from: tuple[str, ...] = (),
    recipe: str | None = None,
) -> dict[str, Any]:
    url = None if repo is None else f"{_RAW}/{repo}/{commit}/{source_path}"
    return {
        "path": path,
        "url": url,
        "repo": repo,
        "commit": commit,
        "source_path": source_path,
        "sha256": sha256,
        "content_sha256": content_sha256,
        "licence": licence if licence is not None else _LICENCES.get(repo or "", "see PROVENANCE"),
        "derived_from": tuple(derived_from),
        "recipe": recipe,
    }


_L1000_DRUGBANK_RECIPE = (
    "l1000_consensi_drugbank (dhimmel/lincs, LINCS L1000 MODZ consensus z-scores, one row per "
    "DrugBank compound) left-joined on the DrugBank id to drugbank (dhimmel/drugbank): columns "
    "drugbank_id, name, inchikey ('InChIKey=' prefix stripped), smiles = RDKit "
    "MolToSmiles(MolFromInchi(inchi)), then the 978 landmark-gene columns (Entrez ids) unchanged."
)
_CMEA_RECIPE = (
    "{rda} (CMEA R package) read with pyreadr; the row names (Broad ids) joined to lincs_pertinfo "
    "(pert_id -> pert_iname, canonical_smiles as smiles, inchi_key as inchikey); columns broad_id, "
    "pert_iname, smiles, inchikey, then the {n} feature columns unchanged; 162 rows, same order "
    "in both CMEA files."
)

REGISTRY: dict[str, dict[str, Any]] = {
    "bbbp": _entry(
        path="moleculenet/bbbp.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/BBBP.csv",
        sha256="d211b6aff488acfb47138edfcf23667af599858b3fe036045541f7137930e548",
        content_sha256="d07a38487aeac5cee5508413e468043ef3097451d2a112701c2d60be9ec6b662",
    ),
    "bace": _entry(
        path="moleculenet/bace.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/bace.csv",
        sha256="fb56d9386eaa076dc1474bc93040e53ccc59d740329d564779d2bc6fa5d7cd5f",
        content_sha256="d36f089649984f7bfaa4589ccc3ae907b831780a01ccfd065a5b604939e1a5df",
    ),
    "clintox": _entry(
        path="moleculenet/clintox.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/clintox.csv",
        sha256="b8f03d8e402771e42370e1b17e97fe064199177ffb45092944dbaab3446f24d5",
        content_sha256="0bd655529cebe6d94addd48b8afdab6fa0438b4503a470866231793f235d7e61",
    ),
    "sider": _entry(
        path="moleculenet/sider.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/sider.csv",
        sha256="3ffbbdea85ccc74a54e762ff03547c189bb087866fcf1cae9c8d08b394811509",
        content_sha256="71efc6ac4ca82d6545bc512509863281be0f17234afd7adaf71a71899988302e",
    ),
    "hiv": _entry(
        path="moleculenet/hiv.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/HIV.csv",
        sha256="8d4a211ed33d242d3303f28e9160acfa94d606675c9d30944fd12373bb810ebc",
        content_sha256="54713c3205055055ea4214e8c4b0d22d93af7e54ad2c48f4edc866e161e57262",
    ),
    "tox21": _entry(
        path="moleculenet/tox21.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/tox21.csv",
        sha256="b0712b58280c1c87660d6abc23e199389372979a9d85f850cb27cdec6aa7c2af",
        content_sha256="7d7e7facd853a63e79ddce4e9c3fcb7a0d83a1c300b603031c0f2c64fbe77761",
    ),
    "esol": _entry(
        path="moleculenet/esol_delaney-processed.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/ESOL_delaney-processed.csv",
        sha256="5d3f47386ea1a6ff54a67e90d9f1106180a8d60be5f3bc259781726f56410b00",
        content_sha256="8c06a76f0c6487d29ab0f903e6a7a7139f189ab3c1178f159c8be8964602f189",
    ),
    "freesolv": _entry(
        path="moleculenet/freesolv_sampl.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/FreeSolv_SAMPL.csv",
        sha256="658dce87944365ad8fc03b8b137e561320deb64316bda57fe74a5069d0859b13",
        content_sha256="ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72",
    ),
    "lipophilicity": _entry(
        path="moleculenet/lipophilicity.csv.gz",
        repo="GLambard/Molecules_Dataset_Collection",
        commit="874041bba47e014e08772c837d6b8c630ab84cb5",
        source_path="originals/Lipophilicity.csv",
        sha256="b63bb8a9fbb8c68bc62949e63d841a59c2e78571a3f0087c47b83f484ee45468",
        content_sha256="aed41590cb30609d51d8e08ad3ff06495a76e80e211358801f596b10da69bacd",
    ),
    "toxcast": _entry(
        path="moleculenet/toxcast.csv.gz",
        repo="chemprop/chemprop",
        commit="a68ade20f227862fe6265c46f021c78217a324ab",
        source_path="data/toxcast.csv.gz",
        sha256="4b9b4366b02ce7ec7a0831d60f8c46f153c53c5e122376df887476240496abd4",
        content_sha256="7cf85e17a8fbeea03297d4f5e3e9df164f19e8a49bb57e955065c28af3306b7a",
    ),
    "chembl2k_assays": _entry(
        path="infoalign/chembl2k_assays.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/chembl2k/raw/assays.csv.gz",
        sha256="9032bb122dcdea5f485d8a706316714538fbce344c56b6eafbc97c68b24dbe5a",
        content_sha256="d01d4f30fdc21d93feae2c6a1b2f1ba3012dbb21e76d2a325ad206d5a7f97f08",
    ),
    "chembl2k_structure": _entry(
        path="infoalign/chembl2k_structure.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/chembl2k/raw/structure.csv.gz",
        sha256="01d9d51c8ee327e82f2f746d8c3fa187c257d3132f0dcdbd4e79632f00a36122",
        content_sha256="1f7e58c42cf0c75da27c3a4f2387bb61f596aa650f178c0d5aaf18411147b53f",
    ),
    "chembl2k_cp_jump": _entry(
        path="infoalign/chembl2k_CP-JUMP.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/chembl2k/raw/CP-JUMP.csv.gz",
        sha256="22bb89ef6ca8dc04a088c7a09322437c64d90cb98994cc7b67010f145508345a",
        content_sha256="6ae8250da11f0d7ab1277e900dcae2f859c8bd52b7d883ba800964176edbc1d7",
    ),
    "chembl2k_ge": _entry(
        path="infoalign/chembl2k_GE.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/chembl2k/raw/GE.csv.gz",
        sha256="b873ae0745865b65162086756fe3f3eb3f70c946d5d23be27cd9f8d78a34bea3",
        content_sha256="e8ad9083b11b6ebb079e8ef65494c9e436e128b2f55cc8913e3153376e79320b",
    ),
    "broad6k_assays": _entry(
        path="infoalign/broad6k_assays.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/broad6k/raw/assays.csv.gz",
        sha256="154734844dd2f9862033422754607120ead6d5ae85e7642f78c50afcc952c8e2",
        content_sha256="8d221c57d173d1974b8afed4faba0829386f42007bfb7c4019b1f760382f4d5c",
    ),
    "broad6k_structure": _entry(
        path="infoalign/broad6k_structure.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/broad6k/raw/structure.csv.gz",
        sha256="28716949ea812aa6ff404ee98767c127a48f6ecb89616f731c7c6f9edb34cc79",
        content_sha256="b3255eb6acca15e48fb07e4ea98193144a478de14de56d71c01a7e87c65b026c",
    ),
    "broad6k_cp_bray": _entry(
        path="infoalign/broad6k_CP-Bray.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/broad6k/raw/CP-Bray.csv.gz",
        sha256="51ff1e1e529d7d105210d38e4323c72ab9d0e13e2f6b0cafe4d0e09a438be4d0",
        content_sha256="0cd238586a4951529a45ee21516afb87dfe2ac0296c78c91813c3e6c188b363f",
    ),
    "broad6k_cp_jump": _entry(
        path="infoalign/broad6k_CP-JUMP.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="1007a22e4560d200f655a14655f5e64008b97430",
        source_path="raw_data/broad6k/raw/CP-JUMP.csv.gz",
        sha256="4a3d96882224a4549dd1d6b2e4cc01dd08359599adceb6b98f2ab24d4d43d6da",
        content_sha256="90a92bbb2668eb409e532e1f058d095b4805d6872c705eb86efa338d5ed41f9e",
    ),
    "broad6k_ge": _entry(
        path="infoalign/broad6k_GE.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/broad6k/raw/GE.csv.gz",
        sha256="55fa12b7c77c314ec62d8e0252eacf793f2b0344ce8496d76269be7f0e2df307",
        content_sha256="bdb1dc9f84dd623b8db74842a0c24df5d1b17a0fe4b7b9947502ca7da7856e86",
    ),
    "moltoxcast_assays": _entry(
        path="infoalign/moltoxcast_assays.csv.gz",
        repo="liugangcode/InfoAlign",
        commit="eed96f36503a8a427fac4f382ee2001f957dd42a",
        source_path="raw_data/moltoxcast/raw/assays.csv.gz",
        sha256="a263400aa84bfbd10918fdd158a7199f0135f68517af13c0ec643714a59bae22",
        content_sha256="15c6aaf8b960324039df064a086786704a780978bfbc1d3610accc56ccfaec80",
    ),
    "l1000_consensi_drugbank": _entry(
        path="cell/l1000_consensi-drugbank.tsv.gz",
        repo="dhimmel/lincs",
        commit="69956dec590ce4caace9df31f5b60c978f321fdc",
        source_path="data/consensi/consensi-drugbank.tsv.gz",
        sha256="f36371a1acc0c4f7cbd20a35969af5447cfadac1c36a640ae892243562847ce2",
        content_sha256="fce36aefb0f264164931c566c33866ba10abed0ec5177569d1b213d1c4a94a32",
    ),
    "l1000_genes": _entry(
        path="cell/l1000_genes.tsv.gz",
        repo="dhimmel/lincs",
        commit="726793b5ce36576f6f17a0e015a4196113da270c",
        source_path="data/consensi/genes.tsv",
        sha256="707c8b954a16b47cc38bdf1be0ab2d2acc601f8235743567ffaacd0ba0113fcb",
        content_sha256="4b79462a64302bbcc944762b7196441b5b11efae08019370b6564db366a7da0c",
    ),
    "lincs_pertinfo": _entry(
        path="cell/lincs_pertinfo.tsv.gz",
        repo="dhimmel/lincs",
        commit="726793b5ce36576f6f17a0e015a4196113da270c",
        source_path="data/pertinfo/pertinfo.tsv.gz",
        sha256="0a14bd9228851c38a5233f8aa09302d4fdd357fdbb1adeaf2d745f69e24bbff8",
        content_sha256="2dfe9356996a36ea84c002129f55f68ed032e9e4452354f554cc11cabba4ac1f",
    ),
    "drugbank": _entry(
        path="cell/drugbank.tsv.gz",
        repo="dhimmel/drugbank",
        commit="6b9ae386d6ba4a0eca2d66d4b0337a6e90fe81f4",
        source_path="data/drugbank.tsv",
        sha256="fed83729ef66a71f88752a834fbfb4eadef8b2cbd752da96e045c54a7098745b",
        content_sha256="66050d51cb7a614ea6e951d630d2cf40893b75026ebe8f56c6cc37c0e73c3edd",
    ),
    "cmea_cell_morphology_rda": _entry(
        path="cell/cmea_Cell_Morphology_Profile.rda",
        repo="isarnassiri/CMEA",
        commit="960cda0c627f45b82bdf636a250c91ef1f9b2d46",
        source_path="data/Cell_Morphology_Profile.rda",
        sha256="3c93451202101c5ea6f25fadd90b87716f56e25220b0dae673fd7f0fa1b40f44",
        content_sha256="6d386ea448bfeeccf53982217ba593e36143408a4361af4dbc92d4d2920d869f",
    ),
    "cmea_transcriptomic_rda": _entry(
        path="cell/cmea_Transcriptomic_Profile.rda",
        repo="isarnassiri/CMEA",
        commit="960cda0c627f45b82bdf636a250c91ef1f9b2d46",
        source_path="data/Transcriptomic_Profile.rda",
        sha256="408fc21276e58737712960188056bbaa3c09dd9a1e91809d7f9a332f149d41b7",
        content_sha256="c4c0642f6f6e86356e6f5645e268e01b3c709136f00eecfb5aff22ab4159b0bc",
    ),
    "lincs_cellpainting_sq00015054": _entry(
        path="cell/lincs_cellpainting_SQ00015054_normalized_feature_select.csv.gz",
        repo="cytomining/cytominer-eval",
        commit="643d3e7fc97464a1b45a4642fa921cc22269b118",
        source_path="cytominer_eval/example_data/compound/SQ00015054_normalized_feature_select.csv.gz",
        sha256="0dab037c26926b143d3d64210bde3aa94943691edd226915dada9db85f5bd1c7",
        content_sha256="1e079dbac3d326f624b3c3c493e9288bed641a5fc08b7fc4b9521ae1da77341f",
    ),
    "derived_l1000_drugbank": _entry(
        path="cell/derived_l1000_drugbank_consensus_smiles.csv.gz",
        derived_from=("l1000_consensi_drugbank", "drugbank"),
        recipe=_L1000_DRUGBANK_RECIPE,
        licence="CC BY-NC 4.0 (DrugBank structures, non-commercial) + CC BY 4.0 (LINCS)",
        sha256="69f6ec935ddc688ae016d37a86f0359bb992d51a712f812009abe8ad97a14bc6",
        content_sha256="97c558b10d19514a73a060d14863b1a24dca4b15b5c28637a85b265ab3ad17d2",
    ),
    "derived_cmea_cellpainting": _entry(
        path="cell/derived_cmea_cellpainting_162.csv.gz",
        derived_from=("cmea_cell_morphology_rda", "lincs_pertinfo"),
        recipe=_CMEA_RECIPE.format(rda="cmea_cell_morphology_rda", n=812),
        licence="GPL-2 (CMEA) + CC BY 4.0 (LINCS metadata)",
        sha256="329e8bfd75ac44da5a1dc9af4a9f791c6ad8ab4c7343aec1bce58e59c0208924",
        content_sha256="7fb0925285ebe2d8815b1b0db87e385dba19bf8c1adae00ea5bf6991a0513256",
    ),
    "derived_cmea_l1000": _entry(
        path="cell/derived_cmea_l1000_162.csv.gz",
        derived_from=("cmea_transcriptomic_rda", "lincs_pertinfo"),
        recipe=_CMEA_RECIPE.format(rda="cmea_transcriptomic_rda", n=978),
        licence="GPL-2 (CMEA) + CC BY 4.0 (LINCS metadata)",
        sha256="7a3ff678acbe166bf964a65309bc54b6b464447cfb5945af479a43fac045c939",
        content_sha256="e0c3341dfa1ad3287ead3c495fb31b634d4531e947c28a6604689381ffeafda6",
    ),
}


# MoleculeACE 3.0.0 (van Tilborg et al., J. Chem. Inf. Model. 2022): 30 ChEMBL targets with their
# own stratified train/test split and activity-cliff flags. The wheel's files are byte-identical
# (git blob of the uncompressed CSV) to the GitHub repository at the "V3" commit pinned here.
# name, sha256 of the stored .csv.gz, sha256 of the CSV.
_MOLECULEACE_COMMIT = "0c391b84859ee12b20f161b57fad9e62218ccce1"
_MOLECULEACE_FILES = (
    ("CHEMBL1862_Ki", "90df453ce2341ad62229c759f46b9a01c4d8abe851d19b9b8d1b789e81849d9c",
     "72a750426976bf5c17ca9129e86dff20962332f92a8ce16028d9fbcf152ca412"),
    ("CHEMBL1871_Ki", "3697651f5e54a0f9b5b89cb857286140a547f0239107c74b7dfd9c155e6430fb",
     "62d05aa76d096fd5bd3575dcfd30dcab24873dc010de47b478b6617fbd95985e"),
    ("CHEMBL2034_Ki", "ec33038c548729b641f4735f55994d84971648c1a4366e67172ee8181e4624e5",
     "476668f39aae0e29a1ab8fa83a7087b179dc705b68cdc060c9958a0eed2048d4"),
    ("CHEMBL2047_EC50", "5b3110ccf7495cb88568ce471de4df165cc0854ff5569edf7439424d89056816",
     "ea1bacf43377aac288840f2d2e37df7705a0d2d1f93bb52b0ce85e499e311f6e"),
    ("CHEMBL204_Ki", "44238e973941b5eab5fe5459cbf466e001d2bb81592f6efa15f5ede1447639af",
     "6ccf17a5f1aa6322f2d68f24b923f2efb5779ff73d33035bb889bb922b18dba5"),
    ("CHEMBL2147_Ki", "900deae4e08866c51f79614816503aaae4e1c00eba7f3f55fcdc14983e3d00ca",
     "5cbf4deba3e6312aff3a77ac3c70eb39a3cd58c9d8686a19a8b56c4a73377d02"),
    ("CHEMBL214_Ki", "05c110dc66acb1bd47579e6de697b3b24b0c830e9209b15f40d5735a2736802a",
     "68bffa3069340c51204ba23395626622559a10c3d39b1111cb9c47f9d9960962"),
    ("CHEMBL218_EC50", "ef3535b8fb172fe71657eed3460cc9a87a0391f1aa30586acd65eb09386e3a14",
     "9133aefc69efa92403107f78f747d4acbd370255ac0a2949cc5f86a30b5ebd11"),
    ("CHEMBL219_Ki", "e41b77fb63c9d29bb8db8c6218c2c9730f08d700f366a28e1112cc85ad7dd7e4",
     "f0d13b1bd8086e3fed746215b0ff8c4399518547bbba2146a0f235f1a9a59fa8"),
    ("CHEMBL228_Ki", "47ef51913af9a9d7ede50f02dfca23b7438044ad4053815cfc081b152691e1dc",
     "17158facfdc5788e22e020e398acd3bbf99edc9d66f7b323da778cd551d9796f"),
    ("CHEMBL231_Ki", "5c92dd1d3ea0060f466a0158d5c3f49518e8bcb1a2dbe9fe66271a03f617d524",
     "9e1c0a22c37e446d37d63e7b39d92cb022774333b4fa430e9f948b748215afb0"),
    ("CHEMBL233_Ki", "afc038eb63e6018828607eb85be968bd41d4bdac60418481d9891ff46419d728",
     "4d8aff053b3d1c12e8cc13102958bb4f3dce4ac7715452265231e5b68d1c9362"),
    ("CHEMBL234_Ki", "3b9841779c879c855464300cd651f96bfa47e3a8da25bbd27a5d0b0843d8fb99",
     "7a86fc3552953bb1ea727f4119b844ff3eadb33d7a79413b1f417cf236f5615a"),
    ("CHEMBL235_EC50", "7e4acbb69268b3227beea798a136bb779cd1f05ec865dcd36eb9d9e37493b4c5",
     "a99b1d18870cc4d83da5fbedfee4504f8c46bb96e71ea7964b84ae7682d4963f"),
    ("CHEMBL236_Ki", "762971e553e6d43ad99479723d7470987ac4a9f66c7968f112068a081b029feb",
     "28227a570694a24325a3206bee2a1623e14949d54abe13e490402fb2f5a8c74e"),
    ("CHEMBL237_EC50", "5e1fb89e2ae31e337b28e62b4637ef6e4204dc0361f65f35a7307fddd7eaef60",
     "37dce21b9ef158ac7d3075997e58896bb0083162c9c820d1996d898dfb0701f5"),
    ("CHEMBL237_Ki", "0ed3a603bb78be5d1090e57792bc69b3ab5220618ae9a6aa68737e5a1adec6f4",
     "8bc5f0f4e512923d7878390f9c6336682dfd638e90d8110f44bfd3af77d605c3"),
    ("CHEMBL238_Ki", "25ce508b7ebd3c5b8d96aa9cab236f4ac44bc1998a2fbd3b2006cf91ec6d7758",
     "5ca1bb99ea9123dc0369f19c1269fec3f9fc3eae3bf9a2b781419b268913761a"),
    ("CHEMBL239_EC50", "0697e7ad2f4991a3bb78b56530259e45a8f32afd49a7c657929f29df8fddec86",
     "1985b2137bd64396ec980e8c6e1f234f6f9aa989c49a20aef71dd22bda68ed9c"),
    ("CHEMBL244_Ki", "8fa0aa69b0852ba232525e7038e08afe95c845a99ec785c266eeda22998dcc32",
     "aafc2e81810767397c8b5b3161b9eed3b33b6e9a827ed176336f388bef274a36"),
    ("CHEMBL262_Ki", "a46c61e7743ac618d3996a692e5268184ca231f943becaf7934ddbcdbb449aae",
     "c438e8e18bc444890246607be107d9afb8c64012608a8a73838acad3eacfce21"),
    ("CHEMBL264_Ki", "44d3d89c55c358169b597080fb69ff4d603eeac3828a0958e7354df9d4beeef5",
     "6b380b5cf61b6985179779a9b9d0d1d3b197773fc3df5079d8932108f75e2bbf"),
    ("CHEMBL2835_Ki", "50d830c4dc6f5bb23463465cb0935ff92ec6a0f5ec5c4a48bab9d0bcd1e73c74",
     "a6ff0b8c3df2c452a9210af5c3d57495846ed16978c339b463c7a4b90c73c66c"),
    ("CHEMBL287_Ki", "3198a473836424d0879d3ed3c3498a846e1313aecc9ba0116cba70f68a0325c1",
     "7f448c29138242dd64ec2a07742e33a1e186129ca4e794e287b67e5ffaea171e"),
    ("CHEMBL2971_Ki", "f9e83087052231118f538424740a3b3f9d3447686e551d6757476650e4b46598",
     "2fe0c20bab93c58f824fdb7f35b1c327e987b76e8403ededb0075cb7649651d3"),
    ("CHEMBL3979_EC50", "66103ca18dbc7afa41dd75939c3bf80903091a2d0f276dcd04405c9b8fddac0e",
     "7e455ec476c0683414404b527d0bb98bf76671f7bd3748507aad505c21a6b44b"),
    ("CHEMBL4005_Ki", "f5ac2cb0c6e5c8ce478ef5ad59733b0876e24a64c360c77cbf864cf636d9e995",
     "183b163b6820d2c0db3190500e3a58cdda1f72d148f36605d7c2e2071d69c03e"),
    ("CHEMBL4203_Ki", "7911400b7c24b0b57312a71172c632eb4c4db3cb6d4362585752336ad1c71582",
     "28d7139fdba99657584430ef793bf2850aaf806651930fc062d50f3f847f032d"),
    ("CHEMBL4616_EC50", "250627812270fd61d12e7d4b3779f61de98c5976d65987868b2cdd9bcfa04f9c",
     "7b79538464cf4a811a9bd593d867d985b3f19d65302f241a7fba409b16230b0a"),
    ("CHEMBL4792_Ki", "b99f09c5408dbf484350b5baece46bceaf8a7e1f443434e4970e3ffab7830edc",
     "088219b5b08fa90962f00e80d7ed66fe7a71e223b18b874fb000d0babc343659"),
)
for _name, _sha, _content in _MOLECULEACE_FILES:
    REGISTRY[f"moleculeace_{_name}"] = _entry(
        path=f"pypi/moleculeace/{_name}.csv.gz",
        repo="molML/MoleculeACE",
        commit=_MOLECULEACE_COMMIT,
        source_path=f"MoleculeACE/Data/benchmark_data/{_name}.csv",
        sha256=_sha,
        content_sha256=_content,
    )
del _name, _sha, _content
