"""The TFRecord loader: a tf.data input pipeline that keeps an accelerator fed.

- :func:`tfrecord_dataset`: parallel, checked reading of TFRecord files into
  parsed batches (shuffle, cache, sharding, the tf.data service, prefetch to
  the GPU);
- :func:`tfrecord_dataset_fn`: the same for
  ``strategy.distribute_datasets_from_function``;
- :func:`write_tfrecords`: sharded, atomic writing with an inferred spec;
- :func:`from_generator`: sharded Python generators as a parallel pipeline;
- :class:`ServiceTimeoutError`: the tf.data service did not answer, or sent
  no batch, within ``service_timeout`` (``safeloader service`` runs its
  servers).

This package needs TensorFlow and imports it on import. ``safeloader``
itself never imports ``safeloader.data``, so ``import safeloader`` stays free
of TensorFlow; TensorFlow loads when this package is first used.
"""

from safeloader.data.generators import from_generator
from safeloader.data.reader import RecordsSkippedWarning, tfrecord_dataset
from safeloader.data.service import ServiceTimeoutError
from safeloader.data.sharding import tfrecord_dataset_fn
from safeloader.data.writer import write_tfrecords

__all__ = [
    "RecordsSkippedWarning",
    "ServiceTimeoutError",
    "from_generator",
    "tfrecord_dataset",
    "tfrecord_dataset_fn",
    "write_tfrecords",
]
