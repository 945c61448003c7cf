"""safeloader: feed training data to Keras from CPU threads, safely and fast.

``import safeloader`` is light: it imports no TensorFlow or Keras. The
runtime names:

- :func:`threadsafe_generator` / :class:`ThreadSafeIterator` (alias
  :data:`threadsafe_iter`): a lock around a generator, for Keras 2's
  ``fit(..., workers=N)``; accepted by Keras 3's ``fit`` as a generator.
- :func:`sharded_generator`: parallel batch preparation, one thread per shard
  (or one process, ``processes=True``, for work that holds the GIL).
- :func:`check_spawn_safe`: raises :class:`SpawnSafetyError` naming the part of
  an object that cannot be sent to a spawned process.

The TFRecord loader lives in :mod:`safeloader.data` and needs TensorFlow.
"""

from safeloader.runtime.sharded import ShardAbandonedWarning, ShardError, sharded_generator
from safeloader.runtime.spawn_safety import SpawnSafetyError, check_spawn_safe
from safeloader.runtime.threadsafe import ThreadSafeIterator, threadsafe_generator, threadsafe_iter

__version__ = "0.1.0"

__all__ = [
    "ShardAbandonedWarning",
    "ShardError",
    "SpawnSafetyError",
    "ThreadSafeIterator",
    "__version__",
    "check_spawn_safe",
    "sharded_generator",
    "threadsafe_generator",
    "threadsafe_iter",
]
