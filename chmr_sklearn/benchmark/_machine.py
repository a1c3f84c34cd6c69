"""What every benchmark report states about its run: the machine, and the plain-RDKit reference.

The benchmark scripts time real molecules against a plain RDKit loop and describe the machine
(CPU, cores, load average): these helpers are that shared part, so no script repeats them.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform

import numpy as np

__all__ = ["cpu_name", "describe_machine", "describe_versions", "load_average", "load_smiles", "machine_info",
           "plain_fingerprints"]


def load_smiles() -> list[str]:
    """The 10,000 real SMILES RDKit ships (WEHI screening set).

    Returns
    -------
    list of str

    Examples
    --------
    >>> smiles = load_smiles()
    >>> len(smiles), isinstance(smiles[0], str)
    (10000, True)
    """
    from ..datasets import load_wehi_molecules

    return load_wehi_molecules().data.tolist()


def cpu_name() -> str:
    """The CPU model for the reports' machine line (``/proc/cpuinfo``, else ``platform``).

    Examples
    --------
    >>> isinstance(cpu_name(), str)
    True
    """
    try:
        with open("/proc/cpuinfo") as f:
            return next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")),
                        platform.processor())
    except OSError:
        return platform.processor()


def load_average() -> str:
    """The 1, 5 and 15 minute load averages as ``"a, b, c"`` (``"n/a"`` where the OS has none).

    Examples
    --------
    >>> len(load_average().split(", ")) in (1, 3)
    True
    """
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info() -> dict:
    """The machine a run measures: CPU, cores, load average, platform, library versions, date.

    Returns
    -------
    dict
        ``cpu``, ``cores`` (logical CPUs this process may use), ``load_start`` (load average
        now), ``platform``, the versions of ``python``, ``torch``, ``rdkit``, ``scikit-learn``
        and ``chmr_sklearn``, ``date`` (UTC, ISO format) and, where CUDA is available, ``gpu``.

    Examples
    --------
    >>> info = machine_info()
    >>> info["cores"] >= 1 and "load_start" in info
    True
    """
    import rdkit
    import sklearn
    import torch

    from .. import __version__

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu_name(), "cores": cores, "load_start": load_average(), "platform": platform.platform(),
        "python": platform.python_version(), "torch": torch.__version__, "rdkit": rdkit.__version__,
        "scikit-learn": sklearn.__version__, "chmr_sklearn": __version__,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **({"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {}),
    }


def describe_machine(info: dict) -> str:
    """One line for a report: CPU, cores and, where there was one, the GPU of a :func:`machine_info`.

    Examples
    --------
    >>> describe_machine({"cpu": "AMD EPYC", "cores": 2})
    'AMD EPYC, 2 cores'
    >>> describe_machine({"cpu": "Intel Xeon", "cores": 16, "gpu": "NVIDIA H200"})
    'Intel Xeon, 16 cores, GPU NVIDIA H200'
    """
    gpu = f", GPU {info['gpu']}" if info.get("gpu") else ""
    return f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores{gpu}"


def describe_versions(info: dict) -> str:
    """The library versions a :func:`machine_info` recorded (those it has), for a report line.

    Examples
    --------
    >>> describe_versions({"python": "3.11.7", "torch": "2.13.0+cpu", "rdkit": "2026.03.6", "cpu": "AMD EPYC"})
    'python 3.11.7, torch 2.13.0+cpu, rdkit 2026.03.6'
    >>> describe_versions({"cpu": "AMD EPYC"})
    'versions not recorded'
    """
    names = ("python", "torch", "rdkit", "scikit-learn", "chmr_sklearn")
    return ", ".join(f"{n} {info[n]}" for n in names if info.get(n)) or "versions not recorded"


def plain_fingerprints(smiles: list[str]) -> np.ndarray:
    """What a user would write by hand: the same 1191 bits (Morgan r2 1024 + MACCS), float32, one loop.

    Examples
    --------
    >>> plain_fingerprints(["CCO", "not a molecule"]).sum(axis=1) > 0
    array([ True, False])
    """
    from rdkit import Chem, DataStructs, rdBase
    from rdkit.Chem import MACCSkeys, rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    out = np.zeros((len(smiles), 1191), dtype=np.float32)
    with rdBase.BlockLogs():
        for i, smi in enumerate(smiles):
            mol = Chem.MolFromSmiles(smi)
            if mol is None:
                continue
            out[i, :1024] = gen.GetFingerprintAsNumPy(mol)
            DataStructs.ConvertToNumpyArray(MACCSkeys.GenMACCSKeys(mol), out[i, 1024:])
    return out
