"""The training scripts of the Keras 3 migration, and the projects that declare their Keras.

Run for real by ``test_keras3_migration_runs.py`` (after ``safeloader-fix``)
and linted with and without Keras installed by ``test_core_install.py``.
"""

from __future__ import annotations

PYDATASET = '''\
import keras
import numpy as np


class Batches(keras.utils.PyDataset):
    def __init__(self, steps):
        super().__init__()
        self.steps = steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        return np.full((4, 2), index, "float32"), np.zeros((4, 1), "float32")


if __name__ == "__main__":
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    data = Batches(3)
    model.fit(data, epochs=1, verbose=0, workers=2)
    print("trained with workers =", data.workers)
'''

FIT_GENERATOR = '''\
import keras
import numpy as np


def batches():
    while True:
        yield np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")


model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
model.fit_generator(batches(), 2, 1, verbose=0, workers=2, use_multiprocessing=False)
print("trained")
'''

SPAWN_SCRIPT = '''\
import multiprocessing

import numpy as np
import tf_keras as keras


class Batches(keras.utils.Sequence):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        return np.full((4, 2), index, "float32"), np.zeros((4, 1), "float32")


multiprocessing.set_start_method("spawn", force=True)
model = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))])
model.compile(optimizer="sgd", loss="mse")
model.fit(Batches(), epochs=1, verbose=0, workers=2, use_multiprocessing=True)
print("trained")
'''

#: name -> (the script, the project files beside it that say which Keras it targets)
PROGRAMS = {
    "pydataset": (PYDATASET, {"requirements.txt": "keras>=3.3\n"}),
    "fit_generator": (FIT_GENERATOR, {"setup.cfg": "[flake8]\nsafeloader-keras-version = 3\n"}),
    "spawn": (SPAWN_SCRIPT, {"requirements.txt": "tf-keras~=2.16\n"}),
}
