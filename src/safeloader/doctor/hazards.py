"""Hazards seen at run time, from the real objects a Keras call receives.

The lint reads the source and cannot follow a generator made by another
package, a method or a factory. Here the call's real arguments are at hand:

- tf_keras (Keras 2): a generator or iterator that is not thread-safe, read by
  ``workers > 1`` threads (SLD101); a generator or iterator handed to worker
  processes (SLD102);
- both: a ``Sequence``/``PyDataset`` read by several threads whose
  ``__getitem__`` uses an iterator kept in an attribute (SLD104);
- Keras 3: ``workers``/``use_multiprocessing``/``max_queue_size`` on the call
  (SLD302: ``TypeError``); an iterator that is not a generator (SLD303:
  ``ValueError: Unrecognized data type``); a float step count (SLD305:
  ``TypeError``; the doctor runs its ``ceil``, as Keras 2 did);
  ``steps_per_epoch`` beyond the ``PyDataset``'s length (SLD306: the epoch
  ends early);
- both, with spawn parity on: a dataset bound for worker processes that a
  spawned worker could not receive (reported as SLD102: data that cannot
  reach worker processes), and worker processes started from the script's
  module level outside the ``__main__`` guard (SLD103).

Where Keras would crash or race, the doctor *defuses* the call (a lock
around the generator, threads instead of processes, the rejected keywords
dropped, the iterator wrapped in a generator) so that the run goes on and
the rest of the script is diagnosed too; the finding says what it changed.
"""

from __future__ import annotations

import inspect
import math
import types
from dataclasses import dataclass, field
from typing import Any, Iterator

from safeloader.analysis.signatures import KERAS3_REJECTED_KEYWORDS
from safeloader.doctor.arguments import CallArguments
from safeloader.doctor.callsite import SourcePosition
from safeloader.doctor.feeds import (dataset_length, definition_of, describe, is_iterator,
                                     is_keras_dataset, is_plain_generator, is_thread_safe)
from safeloader.doctor.findings import RuntimeFinding, rule_message
from safeloader.doctor.flavours import Flavour, MethodSpec
from safeloader.doctor.spawn_parity import spawn_problem, unguarded_start
from safeloader.rules import SLD302_REMEDIES
from safeloader.runtime.threadsafe import ThreadSafeIterator


@dataclass
class HazardCheck:
    """The findings of one call and the context they were made in."""

    flavour: Flavour
    spec: MethodSpec
    position: SourcePosition
    spawn: bool
    script: str
    findings: list[RuntimeFinding] = field(default_factory=list)

    def add(self, code: str, fields: dict[str, str], *, account: str | None = None,
            definition: SourcePosition | None = None, defused: str | None = None) -> None:
        """Record one finding at the call's position, in the registry's words filled
        with ``fields``; ``account`` instead where the rule's words do not fit what
        was seen (a worker process that cannot receive a dataset for another
        reason than a generator in it)."""
        message = account if account is not None else rule_message(code, fields)
        self.findings.append(
            RuntimeFinding(code, message, self.position, definition, defused))


def drop_rejected_keywords(check: HazardCheck, args: tuple[Any, ...], kwargs: dict[str, Any],
                           accepted: set[str]) -> None:
    """Keras 3: remove from ``kwargs`` the loader settings its method does not take
    (SLD302), before the call is bound to the method's signature."""
    rejected = [name for name in KERAS3_REJECTED_KEYWORDS if name in kwargs
                and name not in accepted]
    if not rejected:
        return
    data = args[0] if args else kwargs.get(check.spec.data)
    if is_keras_dataset(data):
        remedy = SLD302_REMEDIES["dataset"].format(cls=type(data).__name__)
    elif is_iterator(data):
        remedy = SLD302_REMEDIES["generator"]
    else:
        remedy = SLD302_REMEDIES["in_memory"]
    keywords = ", ".join(f"'{name}'" for name in rejected)
    settings = ", ".join(f"{name}={kwargs.pop(name)!r}" for name in rejected)
    check.add("SLD302",
              {"call": check.spec.name, "keywords": keywords, "evidence": _evidence(check),
               "remedy": remedy},
              defused=f"called without {settings}")


def check_call(check: HazardCheck, call: CallArguments) -> None:
    """Record the call's hazards in ``check``, defusing ``call`` where Keras would fail."""
    if check.flavour.keras3:
        _keras3_hazards(check, call)
    else:
        _keras2_hazards(check, call)


def _data_arguments(check: HazardCheck, call: CallArguments) -> Iterator[str]:
    yield check.spec.data
    if check.spec.modern == "fit" and call.has("validation_data"):
        yield "validation_data"


def _generator_label(value: object) -> tuple[str, str]:
    """How SLD101/SLD102 name an iterator, and the lint's remedy for it."""
    if is_plain_generator(value) and value.__name__ != "<genexpr>":  # type: ignore[attr-defined]
        name = value.__name__  # type: ignore[attr-defined]
        return f"'{name}'", f"decorate '{name}' with @safeloader.threadsafe_generator"
    return f"{describe(value)}", "wrap it in safeloader.ThreadSafeIterator(...)"


def _keras2_hazards(check: HazardCheck, call: CallArguments) -> None:
    workers = call.get("workers") or 0
    processes = bool(call.get("use_multiprocessing")) and workers > 0
    method = check.spec.name
    started_processes = False
    for name in _data_arguments(check, call):
        value = call.get(name)
        if is_keras_dataset(value):
            if processes:
                started_processes = True
                _spawn_parity(check, value, f"use_multiprocessing=True, workers={workers}")
            elif workers > 1:
                _shared_iterators(check, value, workers)
            continue
        if not is_iterator(value):
            continue
        label, remedy = _generator_label(value)
        safe = is_thread_safe(value)
        if processes:
            started_processes = True
            setting = f"workers={workers}, use_multiprocessing=True"
            advice = ("set use_multiprocessing=False: its lock already makes it thread-safe"
                      if safe else f"set use_multiprocessing=False and {remedy}")
            check.add("SLD102",
                      {"generator": label, "call": method, "setting": setting,
                       "remedy": advice},
                      definition=definition_of(value),
                      defused="use_multiprocessing=False"
                              + ("" if safe else ", the generator behind a lock"))
            call.set("use_multiprocessing", False)
            if not safe:
                call.set(name, ThreadSafeIterator(value))
        elif workers > 1 and not safe:
            setting = f"workers={workers}, use_multiprocessing=False"
            check.add("SLD101",
                      {"generator": label, "call": method, "setting": setting,
                       "remedy": remedy},
                      definition=definition_of(value), defused="the generator behind a lock")
            call.set(name, ThreadSafeIterator(value))
    if started_processes:
        _unguarded(check, "use_multiprocessing=True")


def _keras3_hazards(check: HazardCheck, call: CallArguments) -> None:
    method = check.spec.name
    for name in _data_arguments(check, call):
        value = call.get(name)
        if is_iterator(value) and not isinstance(value, types.GeneratorType):
            kind = type(value).__name__
            remedy = (f"replace the hand-written '{kind}' with safeloader.ThreadSafeIterator, "
                      "which Keras 3 takes as a generator")
            check.add("SLD303",
                      {"data": f"{method}()'s {name}", "kind": f"a {kind} object",
                       "call": method, "evidence": _evidence(check), "remedy": remedy},
                      definition=definition_of(value),
                      defused="the iterator wrapped in a generator")
            call.set(name, _generator_over(value))
        elif is_keras_dataset(value) and name == check.spec.data:
            _keras3_dataset(check, call, value)
    for name in (check.spec.steps, "validation_steps"):
        steps = call.get(name)
        if isinstance(steps, float):
            whole = math.ceil(steps)
            remedy = f"pass {whole}, the steps Keras 2 ran"
            check.add("SLD305",
                      {"param": name, "value": repr(steps), "call": method,
                       "evidence": _evidence(check), "remedy": remedy},
                      defused=f"{name}={whole}")
            call.set(name, whole)


def _keras3_dataset(check: HazardCheck, call: CallArguments, dataset: Any) -> None:
    """SLD306, and the spawn checks of a PyDataset that starts worker processes."""
    steps = call.get(check.spec.steps)
    length = dataset_length(dataset)
    if check.spec.modern == "fit" and isinstance(steps, int) and length is not None \
            and steps > length:
        name = type(dataset).__name__
        remedy = (f"leave steps_per_epoch out and raise epochs to keep the number of steps, "
                  f"or make {name}.__len__ return the batches an epoch should have")
        check.add("SLD306",
                  {"param": "steps_per_epoch", "value": str(steps), "data": f"the {name}",
                   "length": str(length), "evidence": _evidence(check), "remedy": remedy},
                  definition=definition_of(dataset))
    workers = getattr(dataset, "workers", 1) or 0
    if getattr(dataset, "use_multiprocessing", False) and workers > 0:
        setting = f"{type(dataset).__name__}(..., use_multiprocessing=True)"
        _spawn_parity(check, dataset, f"workers={workers}, use_multiprocessing=True")
        _unguarded(check, setting)
    elif workers > 1:
        _shared_iterators(check, dataset, workers)


def _shared_iterators(check: HazardCheck, dataset: Any, workers: int) -> None:
    """SLD104: iterators in the dataset's attributes that ``__getitem__`` uses, while
    ``workers`` threads call it at once; each goes behind a lock for the run."""
    getitem = getattr(type(dataset), "__getitem__", None)
    try:
        source = inspect.getsource(getitem)  # type: ignore[arg-type]
        index = next(iter(list(inspect.signature(getitem).parameters)[1:]), "index")
    except (OSError, TypeError):
        return
    for name, value in list(vars(dataset).items()):
        if not is_iterator(value) or is_thread_safe(value) or f"self.{name}" not in source:
            continue
        kind = type(value).__name__
        check.add("SLD104",
                  {"class_name": type(dataset).__name__, "index": index,
                   "action": f"uses self.{name}, a {kind} object that {workers} worker "
                             f"threads share"},
                  definition=definition_of(dataset),
                  defused=f"self.{name} behind a lock")
        setattr(dataset, name, ThreadSafeIterator(value))


def _evidence(check: HazardCheck) -> str:
    """What a Keras 3 rule's message names as the evidence for Keras 3."""
    return f"keras {check.flavour.label} ran this call"


def _generator_over(iterator: Any) -> Iterator[Any]:
    yield from iterator


def _spawn_parity(check: HazardCheck, dataset: object, setting: str) -> None:
    """SLD102 for a dataset bound for worker processes that spawn could not send."""
    if not check.spawn:
        return
    problem = spawn_problem(dataset)
    if problem is None:
        return
    fields: dict[str, str] = {}
    if problem.type_name.startswith("generator"):  # SLD102's own case: the lint's words fit
        fields = {"generator": f"'{problem.path}'", "call": check.spec.name,
                  "setting": setting,
                  "remedy": "open it inside __getitem__, or use threads "
                            "(use_multiprocessing=False)"}
    if fields:
        check.add("SLD102", fields, definition=definition_of(dataset))
    else:
        check.add("SLD102", fields, account=str(problem), definition=definition_of(dataset))


def _unguarded(check: HazardCheck, setting: str) -> None:
    """SLD103 when the call runs from the script's module level, outside the guard."""
    if not check.spawn:
        return
    start = unguarded_start(check.script)
    if start is None:
        return
    check.add("SLD103", {"call": check.spec.name, "setting": setting},
              definition=start)
