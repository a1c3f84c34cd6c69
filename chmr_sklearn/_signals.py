"""Signal handling that RDKit disturbs; torch-free, so featurizers can use it cheaply."""

from __future__ import annotations

import signal
import threading

__all__ = ["reinstate_sigint_handler"]


def reinstate_sigint_handler() -> bool:
    """Give Ctrl-C back to Python after RDKit calls that took it over.

    RDKit (2026.03) installs its own C-level SIGINT handler while embedding or optimising a
    conformer so that Ctrl-C can cancel the call, and leaves it in place afterwards: the next
    Ctrl-C is then swallowed instead of raising ``KeyboardInterrupt``. Re-setting Python's
    recorded handler re-installs Python's C-level trampoline. Only the main thread can set
    signal handlers; elsewhere this does nothing and returns False.

    Examples
    --------
    >>> import threading
    >>> reinstate_sigint_handler() == (threading.current_thread() is threading.main_thread())
    True
    """

    if threading.current_thread() is not threading.main_thread():
        return False
    handler = signal.getsignal(signal.SIGINT)
    if handler is None:  # installed outside Python: leave it alone
        return False
    signal.signal(signal.SIGINT, handler)
    return True
