"""Training scripts with the Keras 3 data hazards (SLD303-SLD306), run for real by
``test_keras3_hazard_runs.py``: each Keras 3 script as written (it fails) and after
``safeloader-fix`` (it trains), and its Keras 2 twin on tf_keras, to compare.

A script prints its outcome on lines starting with ``RESULT `` (JSON after it).
"""

from __future__ import annotations

from lock_wrappers import forum_wrapper

_MODEL = '''
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
'''

#: SLD303: the forum's lock wrapper (under another name) and its decorator
LOCK_WRAPPER = '''\
import json
import threading

import keras
import numpy as np


''' + forum_wrapper("threadsafe_iterator", "iterator") + '''


def threadsafe_generator(func):
    def gen(*a, **kw):
        return threadsafe_iterator(func(*a, **kw))
    return gen


def plain():
    while True:
        yield np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")


@threadsafe_generator
def batches():
    yield from plain()

''' + _MODEL + '''
history = model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0,
                    validation_data=threadsafe_iterator(plain()), validation_steps=1)
print("RESULT", json.dumps(sorted(history.history)))
'''

#: SLD304: a two-input PyDataset returning list batches
LIST_BATCHES = '''\
import json

import keras
import numpy as np


class Pairs(keras.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        left = np.full((4, 2), index, "float32")
        return [left, left * 2], [np.zeros((4, 1), "float32")]


class Views(keras.utils.PyDataset):
    def __len__(self):
        return 2

    def __getitem__(self, index):
        base = np.full((4, 2), index, "float32")
        return [base * scale for scale in (1, 2)], np.zeros((4, 1), "float32")


first, second = keras.Input((2,)), keras.Input((2,))
joined = keras.layers.Concatenate()([first, second])
model = keras.Model([first, second], keras.layers.Dense(1)(joined))
model.compile(optimizer="sgd", loss="mse")
for data in (Views(), Pairs()):
    history = model.fit(data, epochs=1, verbose=0)
    print("RESULT", json.dumps(len(history.history["loss"])))
'''

#: SLD305: float step counts (the Keras 2 script is the same with tf_keras)
FLOAT_STEPS = '''\
import json

import keras
import numpy as np

SAMPLES, BATCH = 10, 4


def batches():
    while True:
        yield np.zeros((BATCH, 2), "float32"), np.zeros((BATCH, 1), "float32")


class Count(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = {"train": 0, "test": 0, "predict": 0}

    def on_train_batch_end(self, batch, logs=None):
        self.seen["train"] += 1

    def on_test_batch_end(self, batch, logs=None):
        self.seen["test"] += 1

    def on_predict_batch_end(self, batch, logs=None):
        self.seen["predict"] += 1


count = Count()
''' + _MODEL + '''
model.fit(batches(), steps_per_epoch=SAMPLES / BATCH, epochs=2, verbose=0, callbacks=[count],
          validation_data=batches(), validation_steps=1.5)
model.evaluate(batches(), steps=SAMPLES * 0.7 // 2, verbose=0, callbacks=[count])
model.predict(batches(), steps=SAMPLES / 3, verbose=0, callbacks=[count])
print("RESULT", json.dumps(count.seen))
'''

_EPOCH_COUNT = '''

class Count(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1] += 1


count = Count()
''' + _MODEL

#: SLD306 on Keras 3: steps_per_epoch twice the PyDataset's length
STEPS_BEYOND_LENGTH = '''\
import json

import keras
import numpy as np


class Batches(keras.utils.PyDataset):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")

''' + _EPOCH_COUNT + '''
data = Batches(workers=2)
model.fit(data, steps_per_epoch=len(data) * 2, epochs=2, verbose=0, callbacks=[count])
print("RESULT", json.dumps(count.epochs))
'''

#: the same on Keras 2 (tf_keras), whose workers loop the Sequence
STEPS_BEYOND_LENGTH_KERAS2 = '''\
import json

import numpy as np
import tf_keras as keras


class Batches(keras.utils.Sequence):
    def __len__(self):
        return 3

    def __getitem__(self, index):
        return np.zeros((4, 2), "float32"), np.zeros((4, 1), "float32")

''' + _EPOCH_COUNT + '''
data = Batches()
model.fit(data, steps_per_epoch=len(data) * 2, epochs=2, verbose=0, callbacks=[count], workers=2)
print("RESULT", json.dumps(count.epochs))
'''

#: name -> the Keras 3 script, as a user would have it before ``safeloader-fix``
KERAS3_PROGRAMS = {
    "lock_wrapper": LOCK_WRAPPER,
    "list_batches": LIST_BATCHES,
    "float_steps": FLOAT_STEPS,
    "steps_beyond_length": STEPS_BEYOND_LENGTH,
}

#: SLD305's Keras 2 twin: the same step counts through tf_keras' ``*_generator`` methods
FLOAT_STEPS_KERAS2 = FLOAT_STEPS.replace("import keras\n", "import tf_keras as keras\n").replace(
    "model.fit(batches(), steps_per_epoch=SAMPLES / BATCH, epochs=2,",
    "model.fit_generator(batches(), SAMPLES / BATCH, 2,",
).replace(
    "model.evaluate(batches(), steps=SAMPLES * 0.7 // 2,",
    "model.evaluate_generator(batches(), SAMPLES * 0.7 // 2,",
).replace(
    "model.predict(batches(), steps=SAMPLES / 3,",
    "model.predict_generator(batches(), SAMPLES / 3,",
)

#: name -> the Keras 2 (tf_keras) script whose behaviour the Keras 3 one should keep
KERAS2_PROGRAMS = {
    "float_steps": FLOAT_STEPS_KERAS2,
    "steps_beyond_length": STEPS_BEYOND_LENGTH_KERAS2,
}
