"""What to do about a call that waits for its input, from what was measured.

Below :data:`~safeloader.doctor.options.ADVICE_THRESHOLD`, or when the wait
is under :data:`~safeloader.doctor.options.ALARM_MIN_WAIT` a step (half of a
sub-millisecond step is no bottleneck), the doctor only says the input keeps
up. Above them, the advice names the measured costs and
the remedy that fits the kind of input: parallel batch preparation for a
Python generator (``sharded_generator``, in processes for Python-bound
work), more workers for a ``PyDataset``/``Sequence``, parallel map and
prefetch for tf.data, and TFRecords read by tf.data for all of them.
"""

from __future__ import annotations

import math
import os

from safeloader.doctor.options import ADVICE_THRESHOLD, ALARM_MIN_WAIT
from safeloader.doctor.results import CallSiteReport

_TFRECORDS = "or read TFRecords with safeloader.data.tfrecord_dataset"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.3g} ms"


def parallel_batches(input_seconds: float, compute_seconds: float) -> int:
    """How many batches to prepare at once for the input to keep up with the model:
    the ratio of their costs, at least 2, at most the machine's cores (or 8)."""
    needed = math.ceil(input_seconds / compute_seconds) if compute_seconds > 0 else 8
    return max(2, min(needed, os.cpu_count() or 2, 8))


def advice(site: CallSiteReport) -> str | None:
    """One sentence about the input of ``site``; ``None`` when it was not measured."""
    measurement = site.measurement
    share = measurement.input_bound
    if share is None or measurement.ceiling_seconds is None:
        return None
    percent = round(share * 100)
    where = f"{site.method} at {site.position}"
    window = measurement.window
    wait = window.step_seconds - measurement.ceiling_seconds if window else 0.0
    if share < ADVICE_THRESHOLD or wait < ALARM_MIN_WAIT:
        return (f"{where}: the input keeps up ({percent}% of step time, "
                f"{_ms(max(wait, 0.0))} a step, waits for it)")
    head = f"{where}: {percent}% of step time waits for input"
    alone = measurement.input_alone
    compute = measurement.ceiling_seconds
    if alone is None:
        return f"{head}; feed it a tf.data pipeline with prefetch, {_TFRECORDS}"
    cost = alone.seconds_per_batch
    count = parallel_batches(cost, compute)
    model = f"the model needs {_ms(compute)} a step"
    if site.feed_kind == "generator":
        return (f"{head}; the generator takes {_ms(cost)} a batch on one thread and {model}: "
                f"prepare {count} batches at once with safeloader.sharded_generator(fn, {count}) "
                f"(processes=True for Python-bound work), {_TFRECORDS}")
    if site.feed_kind == "dataset":
        return (f"{head}; {site.feed} takes {_ms(cost)} a batch on one thread and {model}: "
                f"give it workers={count} (use_multiprocessing=True for Python-bound "
                f"__getitem__), {_TFRECORDS}")
    if site.feed_kind == "tf.data":
        return (f"{head}; the pipeline yields a batch every {_ms(cost)} on its own and {model}: "
                f"map with num_parallel_calls=tf.data.AUTOTUNE, end with "
                f".prefetch(tf.data.AUTOTUNE), cache what does not change, {_TFRECORDS}")
    return f"{head}; {model}: feed it a tf.data pipeline with prefetch, {_TFRECORDS}"
