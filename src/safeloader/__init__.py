"""safeloader: feed training data to Keras from CPU threads, safely and fast.

``import safeloader`` is light: it imports no TensorFlow or Keras. The
runtime names:

- :func:`threadsafe_generator` / :class:`ThreadSafeIterator` (alias
  :data:`threadsafe_iter`): a lock around a generator, for Keras 2's
  ``fit(..., workers=N)``; accepted by Keras 3's ``fit`` as a generator.
- :func:`sharded_generator`: parallel batch preparation, one thread per shard.

The TFRecord loader lives in :mod:`safeloader.data` and needs TensorFlow.
"""

from safeloader.sharded import ShardAbandonedWarning, ShardError, sharded_generator
from safeloader.threadsafe import ThreadSafeIterator, threadsafe_generator, threadsafe_iter

__version__ = "0.1.0"

__all__ = [
    "ShardAbandonedWarning",
    "ShardError",
    "ThreadSafeIterator",
    "__version__",
    "sharded_generator",
    "threadsafe_generator",
    "threadsafe_iter",
]
