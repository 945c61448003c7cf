"""Names that make a generator thread-safe, and the hand-written wrapper names.

A generator decorated with, or wrapped in a call of, one of these names is
treated as guarded (SLD101 does not fire). Users add more names with
``--safeloader-guards``.
"""

from __future__ import annotations

#: safeloader's own runtime names.
SAFELOADER_GUARDS = frozenset({"threadsafe_generator", "ThreadSafeIterator", "threadsafe_iter"})

#: Keras 2's own wrappers (``tf_keras`` / ``keras.utils.data_utils``).
KERAS_GUARDS = frozenset({"threadsafe_generator", "ThreadsafeIter"})

#: The names of the hand-written wrapper copied across forum answers.
HANDWRITTEN_GUARDS = frozenset(
    {"threadsafe_generator", "thread_safe_generator", "threadsafe", "threadsafe_iter",
     "ThreadSafeIter"}
)

#: Every name recognised without configuration.
BUILTIN_GUARDS = SAFELOADER_GUARDS | KERAS_GUARDS | HANDWRITTEN_GUARDS
