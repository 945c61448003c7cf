"""The instruments: wrapped ``Model`` methods that cap, time and check each call.

A :class:`DoctorSession` wraps ``fit``/``evaluate``/``predict`` (and tf_keras'
``*_generator`` methods) on ``keras.Model`` and ``tf_keras.Model`` when the
script imports them. Each call, from the user's code (calls Keras makes of
its own, such as ``fit``'s validation ``evaluate`` or ``fit_generator``'s
``fit``, pass straight through):

1. finds its call site (the user's line);
2. checks the real arguments for hazards, defusing what would crash or race;
3. on the first call at that line, hands Keras a timing generator in place of
   an iterator, and puts the step clocks around the user's callbacks;
4. runs under the cap: one epoch, ``warmup + steps`` steps (the warm-up
   grows by twice the queue of Keras' own workers, which fill it while the
   first step is traced);
5. then, on the first call, measures the input alone and the ceiling.

Nothing the measurement does may break the user's run: its failures are
reported as "not measured", never raised.

Private names of Keras relied on: none. The instruments use the public
``Model`` methods and signatures, ``Callback`` hooks,
``keras.config.set_max_steps_per_epoch``/``max_steps_per_epoch``,
``keras.backend.backend()`` and ``tf.data``; PyDataset settings are read
through its public ``workers``/``use_multiprocessing``/``max_queue_size``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
import threading
import warnings
from types import ModuleType
from typing import Any, Callable, Iterator

from safeloader.doctor.arguments import CallArguments
from safeloader.doctor.callsite import SourcePosition, find_call_site, package_root
from safeloader.doctor.ceiling import ceiling_step_seconds
from safeloader.doctor.clocks import MODES, step_clocks, with_clocks
from safeloader.doctor.feeds import Feed, classify
from safeloader.doctor.flavours import DEFAULT_BATCH_SIZE, Flavour, MethodSpec, loaded_flavour
from safeloader.doctor.hazards import HazardCheck, check_call, drop_rejected_keywords
from safeloader.doctor.import_hook import PostImportHook
from safeloader.doctor.measurement import Measurement, StepTimes, steady_window
from safeloader.doctor.options import DoctorOptions
from safeloader.doctor.results import CallSiteReport, DoctorRun

#: Warm-up steps of the ceiling run: tracing the step for the cached batch's shapes.
CEILING_WARMUP = 3

_DOCTOR_ROOT = package_root(__file__)


class DoctorSession:
    """Instruments Keras for one run of a script and collects what it sees."""

    def __init__(self, options: DoctorOptions, run: DoctorRun) -> None:
        self.options = options
        self.run = run
        self._sites: dict[tuple[SourcePosition, str], CallSiteReport] = {}
        self._originals: dict[tuple[str, str], Callable[..., Any]] = {}
        self._patched: list[tuple[type, str, Any]] = []
        self._flavours: dict[str, Flavour] = {}
        self._local = threading.local()
        self._warning_filters: list[Any] = []
        self._hook = PostImportHook({"keras": self._instrument_keras3,
                                     "tf_keras": self._instrument_tf_keras})

    # -- installing -------------------------------------------------------------------

    def install(self) -> None:
        """Wrap Keras' methods now or when the script first imports Keras."""
        self._warning_filters = warnings.filters[:]
        # Keras 3 warns at every capped call; the cap is the doctor's, not the script's.
        warnings.filterwarnings("ignore", message="Limiting steps_per_epoch", category=UserWarning)
        self._hook.install()

    def uninstall(self) -> None:
        """Put the original methods back and stop watching imports."""
        self._hook.uninstall()
        warnings.filters[:] = self._warning_filters
        for cls, name, previous in reversed(self._patched):
            if previous is None:
                delattr(cls, name)
            else:
                setattr(cls, name, previous)
        self._patched.clear()

    def _instrument_keras3(self, module: ModuleType) -> None:
        self._instrument("keras", module)

    def _instrument_tf_keras(self, module: ModuleType) -> None:
        self._instrument("tf_keras", module)

    def _instrument(self, package: str, module: ModuleType) -> None:
        flavour = loaded_flavour(package, module)
        if flavour is None or package in self._flavours:
            return
        self._flavours[package] = flavour
        cls = flavour.model_class
        for spec in flavour.methods:
            original = getattr(cls, spec.name, None)
            if original is None:
                continue
            self._originals[(package, spec.name)] = original
            self._patched.append((cls, spec.name, cls.__dict__.get(spec.name)))
            setattr(cls, spec.name, self._wrap(flavour, spec, original))

    def _wrap(self, flavour: Flavour, spec: MethodSpec,
              original: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(original)
        def instrumented(model: Any, *args: Any, **kwargs: Any) -> Any:
            if getattr(self._local, "busy", False):  # Keras calling itself
                return original(model, *args, **kwargs)
            with self._busy():
                return self._run_call(flavour, spec, original, model, args, kwargs)

        return instrumented

    @contextlib.contextmanager
    def _busy(self) -> Iterator[None]:
        self._local.busy = True
        try:
            yield
        finally:
            self._local.busy = False

    # -- one call ---------------------------------------------------------------------

    def _library_roots(self) -> tuple[str, ...]:
        roots = [_DOCTOR_ROOT]
        for flavour in self._flavours.values():
            roots.extend(flavour.library_roots())
        tensorflow = package_root(getattr(sys.modules.get("tensorflow"), "__file__", None))
        if tensorflow is not None:
            roots.append(tensorflow)
        return tuple(roots)

    def _site(self, position: SourcePosition, spec: MethodSpec,
              flavour: Flavour) -> CallSiteReport:
        key = (position, spec.name)
        site = self._sites.get(key)
        if site is None:
            site = CallSiteReport(position, spec.name, flavour.label)
            self._sites[key] = site
            self.run.sites.append(site)
            if flavour.label not in self.run.keras:
                self.run.keras.append(flavour.label)
        return site

    def _run_call(self, flavour: Flavour, spec: MethodSpec, original: Callable[..., Any],
                  model: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        position = find_call_site(self._library_roots())
        site = self._site(position, spec, flavour)
        site.calls += 1
        check = HazardCheck(flavour, spec, position, self.options.spawn, self.options.script)
        kwargs = dict(kwargs)
        if flavour.keras3:
            drop_rejected_keywords(check, args, kwargs, set(inspect.signature(original).parameters))
        call = CallArguments(original, model, args, kwargs)
        feed = classify(call.get(spec.data))  # as the user passed it, before any defusing
        check_call(check, call)
        site.add_findings(check.findings)
        warmup = self.options.warmup + 2 * _queue_depth(flavour, call, feed)
        cap = warmup + self.options.steps + 1  # the last step's cycle ends at none
        if feed.kind == "arrays" and call.has("batch_size") and call.get("batch_size") is None:
            # Keras would stretch the batches to cover the data in the capped steps.
            call.set("batch_size", DEFAULT_BATCH_SIZE)
        if spec.modern == "predict":
            self.run.add_note(f"{spec.name} at {position} returns the predictions of at most "
                              f"{cap} batches under the doctor's cap")
        if site.calls > 1:
            with flavour.capped(spec, call, cap):
                return call.call(original)
        site.feed_kind, site.feed, site.feed_definition = feed.kind, feed.label, feed.definition
        times = StepTimes()
        call.set(spec.data, feed.instrumented(call.get(spec.data),
                                              flavour.reads_in_threads(spec, call)))
        clocks = step_clocks(flavour.callback_base, MODES[spec.modern], times)
        callbacks = with_clocks(call.get("callbacks"), clocks)
        if callbacks is not None:
            call.set("callbacks", callbacks)
        with flavour.capped(spec, call, cap):
            result = call.call(original)
        if callbacks is None:
            site.measurement.not_measured = "its callbacks are a ready-made CallbackList"
        else:
            site.measurement = self._measure(flavour, spec, model, call, feed, times, warmup)
        return result

    # -- measuring --------------------------------------------------------------------

    def _measure(self, flavour: Flavour, spec: MethodSpec, model: Any, call: CallArguments,
                 feed: Feed, times: StepTimes, warmup: int) -> Measurement:
        measurement = Measurement(window=steady_window(times, warmup, self.options.steps))
        if measurement.window is None:
            ran = times.batches()
            measurement.not_measured = f"too few steps ran ({ran})"
            return measurement
        try:
            measurement.input_alone, batch = feed.read_alone()
            if feed.kind == "arrays":
                batch = _array_batch(call, spec)
            if batch is None:
                measurement.not_measured = f"no batch of this {feed.kind} input to replay"
                return measurement
            measurement.ceiling_seconds = ceiling_step_seconds(
                self._originals[(flavour.package, spec.modern)], model, MODES[spec.modern],
                batch, callback_base=flavour.callback_base,
                use_tf_data=flavour.backend == "tensorflow", verbose=call.get("verbose"),
                warmup=CEILING_WARMUP, steps=self.options.steps)
        except Exception as error:  # noqa: BLE001 - measuring must not break the script
            measurement.not_measured = f"{type(error).__name__}: {error}"
        return measurement


def _queue_depth(flavour: Flavour, call: CallArguments, feed: Feed) -> int:
    """Batches Keras' own workers may have queued before the first step ends."""
    if flavour.keras3:
        if feed.kind != "dataset":
            return 0
        workers = getattr(feed.obj, "workers", 1) or 0
        processes = getattr(feed.obj, "use_multiprocessing", False)
        queued = workers > 1 or (workers > 0 and processes)
        return int(getattr(feed.obj, "max_queue_size", 10) or 0) if queued else 0
    if feed.kind not in ("generator", "dataset"):
        return 0
    workers = call.get("workers") or 0
    queued = workers > 1 or (workers > 0 and call.get("use_multiprocessing"))
    return int(call.get("max_queue_size") or 0) if queued else 0


def _array_batch(call: CallArguments, spec: MethodSpec) -> Any:
    """The first batch of in-memory ``x`` (and ``y``, ``sample_weight``)."""
    size = call.get("batch_size") or DEFAULT_BATCH_SIZE
    parts = [call.get(spec.data)]
    if spec.modern != "predict":
        parts += [call.get("y"), call.get("sample_weight")]
    while parts and parts[-1] is None:
        parts.pop()
    return tuple(_head(part, size) for part in parts)


def _head(structure: Any, size: int) -> Any:
    if isinstance(structure, dict):
        return {key: _head(value, size) for key, value in structure.items()}
    if isinstance(structure, (list, tuple)):
        return tuple(_head(value, size) for value in structure)
    return structure[:size]
