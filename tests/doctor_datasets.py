"""A Keras 3 PyDataset for the doctor's in-process tests (import after importorskip)."""

from __future__ import annotations

import keras
import numpy as np


class StreamFrames(keras.utils.PyDataset):
    """Holds a generator: fine on Linux's forked workers, not sendable to spawned ones."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stream = (index for index in range(3))

    def __len__(self):
        return 4

    def __getitem__(self, index):
        return np.zeros((2, 1)), np.zeros((2, 1))
