"""SIGINT and SIGTERM as a flag that the training loop checks after each step."""

from __future__ import annotations

import logging
import signal
import threading

logger = logging.getLogger(__name__)


class StopOnSignal:
    """Within the block, the first SIGINT or SIGTERM sets :attr:`signum` (the loop then saves a
    checkpoint and stops); a second one stops at once with :class:`KeyboardInterrupt`. Outside
    the main thread, where Python cannot install handlers, it does nothing."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict = {}

    def _handle(self, signum: int, frame) -> None:
        if self.signum is not None:  # a second signal: stop now
            raise KeyboardInterrupt
        self.signum = signum
        logger.warning("%s received: saving a checkpoint and stopping", signal.Signals(signum).name)

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
