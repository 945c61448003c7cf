"""``safeloader doctor``: run a training script briefly and prove its data loading.

The script runs unmodified, as ``python SCRIPT ARGS`` would run it, with
instruments on the ``fit``/``evaluate``/``predict`` methods of Keras 3 and
tf_keras (and tf_keras' ``*_generator`` methods). Each call trains a few steps
of one epoch; for each call site the doctor reports the share of step time
spent waiting for input (``input_bound``) and the hazards it saw in the real
objects, with the lint's rule codes. See docs/doctor.md.

The package's modules, one job each:

- :mod:`~safeloader.doctor.command`: the command line;
- :mod:`~safeloader.doctor.runner`: runs the script as ``__main__``;
- :mod:`~safeloader.doctor.session`: the instruments, one call at a time;
- :mod:`~safeloader.doctor.import_hook`: instruments Keras when the script imports it;
- :mod:`~safeloader.doctor.flavours`: Keras 3 and tf_keras, what differs;
- :mod:`~safeloader.doctor.arguments`: a call's arguments by name;
- :mod:`~safeloader.doctor.feeds`: what a call is fed, and timing it;
- :mod:`~safeloader.doctor.clocks`, :mod:`~safeloader.doctor.measurement`,
  :mod:`~safeloader.doctor.ceiling`: step times, the ceiling, ``input_bound``;
- :mod:`~safeloader.doctor.hazards`, :mod:`~safeloader.doctor.spawn_parity`,
  :mod:`~safeloader.doctor.findings`: run-time hazards with the lint's codes;
- :mod:`~safeloader.doctor.advice`, :mod:`~safeloader.doctor.report`: the report.

Importing this package imports no TensorFlow or Keras.
"""

from safeloader.doctor.options import DoctorOptions
from safeloader.doctor.results import CallSiteReport, DoctorRun
from safeloader.doctor.runner import run_doctor

__all__ = ["CallSiteReport", "DoctorOptions", "DoctorRun", "run_doctor"]
