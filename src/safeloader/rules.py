"""The registry of safeloader's rules: one entry per code, read by every front end.

Each :class:`Rule` owns its code, message template, documentation (under
ruff's headings), its bad and good examples and the safety of its fix. The
analysis formats messages through :meth:`Rule.format`, the flake8 plugin
reports them, ``safeloader rule CODE`` prints :func:`render_markdown`, and
``python -m safeloader.docs_gen`` writes ``docs/rules/SLDnnn.md`` from it.
The tests run every rule's ``example`` (exactly that rule fires) and
``use_instead`` (nothing fires).
"""

from __future__ import annotations

import enum
import sys
import textwrap
from dataclasses import dataclass
from typing import Mapping


class FixSafety(enum.Enum):
    """Whether ``safeloader-fix`` applies a rule's fix by default."""

    #: applied by default: behaviour is kept except for the hazard removed
    SAFE = "safe"
    #: applied only with ``--unsafe-fixes``: behaviour may change
    UNSAFE = "unsafe"
    #: the rule has no automatic fix
    NONE = "none"


@dataclass(frozen=True)
class Rule:
    """One rule: what it finds, why, how it reads, and how it is fixed."""

    code: str
    name: str
    summary: str
    message: str
    what_it_does: str
    why_bad: str
    example: str
    use_instead: str
    fix_title: str | None
    fix_safety: FixSafety
    fix_safety_note: str
    default_enabled: bool = True
    keras3_only: bool = False
    references: tuple[str, ...] = ()
    #: the message template in a notebook, where what the rule warns about differs
    #: (``None``: the script's); see :meth:`format_in_notebook`
    notebook_message: str | None = None
    #: what is different in a notebook, for the rule's page (``None``: nothing)
    notebook_note: str | None = None

    def format(self, **fields: str) -> str:
        """Return the flake8 message: the code, a space, the filled template."""
        return f"{self.code} {self.message.format(**fields)}"

    def format_in_notebook(self, **fields: str) -> str:
        """Return the flake8 message for a notebook's code: the notebook template's
        when the rule has one, else :meth:`format`'s."""
        if self.notebook_message is None:
            return self.format(**fields)
        return f"{self.code} {self.notebook_message.format(**fields)}"


def _text(block: str) -> str:
    """Dedent a triple-quoted block and strip its surrounding blank lines."""
    return textwrap.dedent(block).strip("\n")


_KERAS_FIT = "https://keras.io/api/models/model_training_apis/#fit-method"
_PYDATASET = "https://keras.io/api/utils/python_utils/#pydataset-class"
_TF_DATA = "https://www.tensorflow.org/guide/data_performance"
_MP_GUARD = (
    "https://docs.python.org/3/library/multiprocessing.html"
    "#the-spawn-and-forkserver-start-methods"
)
_ITERATOR = "https://docs.python.org/3/library/stdtypes.html#iterator-types"


def _iterator_wrapper(name: str, next_method: str) -> str:
    """The forum's hand-written iterator wrapper: a class ``name`` keeping the
    iterator it is given and a lock, its ``__iter__`` returning ``self``, and
    ``next_method`` (a method's text) handing the items on."""
    head = _text(
        f"""
        class {name}:
            def __init__(self, it):
                self.it = it
                self.lock = threading.Lock()

            def __iter__(self):
                return self
        """
    )
    return head + "\n\n" + textwrap.indent(_text(next_method), "    ")


#: the wrapper's ``__next__`` done right: the wrapped iterator advanced under the lock
_LOCKED_NEXT = """
    def __next__(self):
        with self.lock:
            return next(self.it)
"""

#: a hand-written iterator wrapper done right: the "use instead" of SLD201 and SLD202,
#: and the example of SLD203 (which safeloader's runtime replaces)
_LOCKED_ITERATOR = "import threading\n\n\n" + _iterator_wrapper("threadsafe_iter", _LOCKED_NEXT)

#: a PyDataset that forwards its worker settings to Keras: the "use instead" of SLD105,
#: and the start of SLD302's (which adds the call that sets them)
_FORWARDING_PYDATASET = _text(
    """
    import keras


    class Batches(keras.utils.PyDataset):
        def __init__(self, images, labels, **kwargs):
            super().__init__(**kwargs)
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.images)

        def __getitem__(self, index):
            return self.images[index], self.labels[index]
    """
)


_RULE_LIST = (
    Rule(
        code="SLD101",
        name="unsafe-generator-in-threaded-loader",
        summary="A plain generator is fed to a Keras loader that reads it from several threads.",
        message=(
            "generator {generator} feeds {call}({setting}) from threads but is not "
            "thread-safe; {remedy}"
        ),
        what_it_does=_text(
            """
            Finds a Python generator (a call of a generator function defined in the
            file or imported from the project, a name bound to one, or a generator
            expression) passed as the data or `validation_data` of `fit`, `evaluate`,
            `predict` or their `*_generator` forms when `workers` (Keras 1:
            `nb_worker`) is greater than 1 or not a literal, and
            `use_multiprocessing` (Keras 1: `pickle_safe`) is not `True`. A name
            bound several ways, a parameter, an unknown callee or a function with
            a decorator it does not know is not guessed at. A module that
            targets Keras 3 is not checked: its `fit` takes no `workers`
            (SLD302) and has no `*_generator` forms (SLD301), and the fixes of
            those rules remove the settings (Keras 3 reads a generator from one
            background thread) or move them into the data's `PyDataset`.
            """
        ),
        why_bad=_text(
            """
            Keras 2 starts `workers` threads that all call `next()` on the same
            generator. A generator cannot be resumed by two threads at once: training
            stops with `RuntimeError: Your generator is NOT thread-safe` (or
            `ValueError: generator already executing`), sometimes after hours.
            A literal `workers=0` or `workers=1` reads the generator from one thread
            and is not reported. Even behind a lock the generator runs one batch at
            a time: for parallel preparation use `safeloader.sharded_generator` or a
            `tf.data` pipeline.
            """
        ),
        example=_text(
            """
            import tf_keras as keras


            def batches(images, labels, size):
                while True:
                    for start in range(0, len(images), size):
                        yield images[start:start + size], labels[start:start + size]


            def train(model, images, labels):
                model.fit(batches(images, labels, 32), steps_per_epoch=100, workers=4)
            """
        ),
        use_instead=_text(
            """
            import tf_keras as keras

            import safeloader


            @safeloader.threadsafe_generator
            def batches(images, labels, size):
                while True:
                    for start in range(0, len(images), size):
                        yield images[start:start + size], labels[start:start + size]


            def train(model, images, labels):
                model.fit(batches(images, labels, 32), steps_per_epoch=100, workers=4)
            """
        ),
        fix_title=(
            "Decorate the generator function with `@threadsafe_generator`, or wrap the "
            "expression in `ThreadSafeIterator(...)`"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The fix adds `@threadsafe_generator` (and its import from safeloader) to
            the generator function, in whichever module of the project defines it, or
            wraps a generator expression in `ThreadSafeIterator(...)`. The generator
            yields the same items in the same order; only concurrent `next()` calls
            are serialised. A generator that is also pickled somewhere (for
            multiprocessing) now raises a `TypeError` saying why.
            """
        ),
        references=(_KERAS_FIT, _TF_DATA),
    ),
    Rule(
        code="SLD102",
        name="generator-with-multiprocessing",
        summary="A generator is fed to a Keras loader with `use_multiprocessing=True`.",
        message=(
            "generator {generator} feeds {call}({setting}) to worker processes: each "
            "process replays its own copy under fork and it cannot be pickled under "
            "spawn; {remedy}"
        ),
        what_it_does=_text(
            """
            Finds a generator (as SLD101 defines it, guarded by a lock or not) passed
            as the data or `validation_data` of `fit`, `evaluate`, `predict` or their
            `*_generator` forms with `use_multiprocessing=True` (Keras 1:
            `pickle_safe=True`) and `workers` not a literal 0. As for SLD101, a
            module targeting Keras 3 is not checked: the fixes of SLD301 and
            SLD302 remove the setting from a generator's call.
            """
        ),
        why_bad=_text(
            """
            Worker processes do not share the generator. Under the `fork` start
            method (Linux) every process continues its own copy, so the model sees
            the same batches several times per epoch; under `spawn` (Windows, macOS)
            a generator cannot be pickled and loading fails. A lock does not cross
            process boundaries, so a thread-safe wrapper does not help. Use threads
            (`use_multiprocessing=False`) with a thread-safe generator, a
            `keras.utils.Sequence` / `PyDataset`, which processes can index, or
            a `tf.data` pipeline.
            """
        ),
        example=_text(
            """
            import tf_keras as keras


            def batches(paths):
                while True:
                    for path in paths:
                        yield load(path)


            def train(model, paths):
                model.fit(batches(paths), steps_per_epoch=100, workers=4, use_multiprocessing=True)
            """
        ),
        use_instead=_text(
            """
            import tf_keras as keras

            import safeloader


            @safeloader.threadsafe_generator
            def batches(paths):
                while True:
                    for path in paths:
                        yield load(path)


            def train(model, paths):
                model.fit(batches(paths), steps_per_epoch=100, workers=4, use_multiprocessing=False)
            """
        ),
        fix_title=(
            "Set `use_multiprocessing=False` and make the generator thread-safe (the "
            "SLD101 fix)"
        ),
        fix_safety=FixSafety.UNSAFE,
        fix_safety_note=_text(
            """
            Switching from processes to threads changes how batches are prepared:
            CPU-bound Python work in the generator no longer runs in parallel (the
            GIL), and any per-process state the generator relied on is now shared.
            Under fork the old code also trained on duplicated batches, which the fix
            removes, so epoch contents and training curves change. Applied only
            with `--unsafe-fixes`.
            """
        ),
        references=(_KERAS_FIT, _MP_GUARD),
        notebook_message=(
            "generator {generator} feeds {call}({setting}) to worker processes, which "
            "cannot import what a notebook defines (spawn) and replay their own copy "
            "(fork); use threads: {remedy}, or safeloader.sharded_generator for parallel "
            "batches (with processes=True it needs {function} moved into a module such as "
            "{module})"
        ),
        notebook_note=_text(
            """
            A notebook's functions live in the kernel's `__main__`, which a spawned
            worker process (Windows, macOS, or `spawn` anywhere) cannot import, and
            a generator object cannot be sent to one at all. The message says so
            and points at threads: the same unsafe fix (`use_multiprocessing=False`
            and a thread-safe generator), or `safeloader.sharded_generator` for
            batches prepared in parallel; running its shards in processes
            (`processes=True`) needs the generator function moved into a `.py`
            module, which the message names.
            """
        ),
    ),
    Rule(
        code="SLD103",
        name="multiprocessing-without-main-guard",
        summary=(
            "Multiprocessing data loading is started from module top level without an "
            "`if __name__ == \"__main__\":` guard."
        ),
        message=(
            "{call}({setting}) starts worker processes from module top level without "
            "an 'if __name__ == \"__main__\":' guard; under spawn (Windows, macOS) each "
            "worker re-runs this script: move the training code under the guard"
        ),
        what_it_does=_text(
            """
            Finds a call of `fit`, `evaluate`, `predict` or their `*_generator` forms
            that loads data in worker processes (`use_multiprocessing=True` or
            `pickle_safe=True` on the call, or a `PyDataset` subclass of the project
            built with `use_multiprocessing=True`) and runs when the module is
            executed: at module level outside an `if __name__ == "__main__":` block,
            or in a module-level function that module level calls unguarded (directly
            or through the module's other functions).
            `workers` of 0 or less starts no process (Keras 2 starts workers only for
            `workers > 1`, or `workers > 0` with `use_multiprocessing`) and is not
            reported. A call that runs on import of a function in another module of
            the project that starts worker processes (itself, or through the
            project functions it calls, a flag passed on included:
            `train(model, use_multiprocessing=True)`) is reported too, at the called
            name, naming where the processes start (`module.py:line`); only whole
            statements (`train(...)`, `history = train(...)`) of undecorated
            functions are followed, never installed packages. In a module that
            targets Keras 3, whose `fit` takes no `use_multiprocessing`, the
            call's setting counts where the fix of SLD302 (or SLD301) moves it
            into the constructor of the data's `PyDataset`, in a notebook too;
            removed with a generator, it starts nothing.
            """
        ),
        why_bad=_text(
            """
            Under the `spawn` start method (the default on Windows and macOS) every
            worker process imports the main script again. Without the guard each
            worker builds the model and starts training again, spawning workers of
            its own: the run hangs, crashes with `RuntimeError: An attempt has been
            made to start a new process before the current process has finished its
            bootstrapping phase`, or exhausts memory.
            """
        ),
        example=_text(
            """
            import tf_keras as keras

            from data import ImageSequence

            model = keras.models.load_model("model.keras")
            model.fit(ImageSequence("train/"), epochs=10, workers=4, use_multiprocessing=True)
            """
        ),
        use_instead=_text(
            """
            import tf_keras as keras

            from data import ImageSequence


            def main():
                model = keras.models.load_model("model.keras")
                model.fit(ImageSequence("train/"), epochs=10, workers=4, use_multiprocessing=True)


            if __name__ == "__main__":
                main()
            """
        ),
        fix_title=(
            "Move the module's top-level statements, from the first one that is not an "
            "import, a `def`, a `class`, the docstring or a constant assignment, under "
            "`if __name__ == \"__main__\":` (`def` and `class` statements stay at top level)"
        ),
        fix_safety=FixSafety.UNSAFE,
        fix_safety_note=_text(
            """
            Run as a script, the module does what it did. Imported, it no longer
            trains: the moved statements (and the globals they bind) exist only when
            it runs as `__main__`, which is what worker processes need but another
            module importing a name from this one might not expect. The fix is
            refused, naming the global, when a class or function that worker
            processes run (the module's `Sequence`/`PyDataset` classes and what they
            use) reads a global that only moved statements bind, or when a `def` or
            `class` that stays at top level reads one when it is defined. Applied
            only with `--unsafe-fixes`.
            """
        ),
        references=(_MP_GUARD,),
        notebook_message=(
            "{call}({setting}) loads {data} in worker processes, but spawned workers "
            "(Windows, macOS) cannot import class '{name}', which the notebook defines: move "
            "it into a module such as {module} and import it, or load in threads "
            "({keyword}=False)"
        ),
        notebook_note=_text(
            """
            A notebook is not a script: no worker re-runs it, so a `__main__` guard
            means nothing there. What fails instead is the class: it lives in the
            kernel's `__main__`, which a spawned worker process (Windows, macOS, or
            `spawn` anywhere) cannot import. So in a notebook the rule reports
            multiprocessing loading of a `Sequence`/`PyDataset` whose class the
            notebook defines, wherever the call is (a class imported from a module
            is fine, and is not reported), and says to move the class into a
            module, naming one, or to load in threads. Its fix there is the thread
            route, never the guard: `use_multiprocessing=False` on the call or on
            the dataset's constructor (unsafe, only with `--unsafe-fixes`). Under
            Keras 3, where the fix of SLD302 (or SLD301) moves the call's setting
            into the constructor, the thread route sets it to `False` there in the
            same pass.
            """
        ),
    ),
    Rule(
        code="SLD104",
        name="stateful-getitem-in-sequence",
        summary=(
            "A `Sequence`/`PyDataset` subclass's `__getitem__` calls `next()` on shared "
            "state or mutates `self`."
        ),
        message=(
            "{class_name}.__getitem__ {action}: batches are fetched by index from "
            "several workers at once, so shared state races; compute each batch from "
            "'{index}' alone"
        ),
        what_it_does=_text(
            """
            Finds a subclass of `keras.utils.Sequence` or `keras.utils.PyDataset`
            (directly, through an alias, or through another class of the file)
            whose `__getitem__` advances an iterator kept in `self` or in a
            module-level name (`next(self.gen)`, `self.it.__next__()`), or changes
            `self`: assigns, updates or deletes an attribute (`self.i += 1`),
            takes items out of a container (`self.queue.pop()`), or shuffles one
            in place. Not reported, because they do not make batches depend on
            timing: storing into a cache (`self.cache[i] = batch`), appending to
            a log, a lazy `if self.f is None: self.f = open(...)`, and anything
            under `with self.lock:`. The class's own methods (and those of its
            base classes in the file) that `__getitem__` calls as `self.helper(...)`
            are followed, helper to helper, up to eight calls deep: a helper that
            changes `self` is reported at its call in `__getitem__`, naming the
            chain of helpers and the attribute.
            """
        ),
        why_bad=_text(
            """
            Keras calls `__getitem__` for different indices from `workers` threads or
            processes at the same time and in any order. A shared iterator advanced
            inside it raises `ValueError: generator already executing` or hands out
            batches in the wrong order; state written to `self` races between
            threads and is lost between processes. `__getitem__(i)` must depend
            only on `i` and on state fixed in `__init__` (or `on_epoch_end`).
            """
        ),
        example=_text(
            """
            import keras


            class Batches(keras.utils.PyDataset):
                def __init__(self, source, **kwargs):
                    super().__init__(**kwargs)
                    self.source = source

                def __len__(self):
                    return 100

                def __getitem__(self, index):
                    return next(self.source)
            """
        ),
        use_instead=_text(
            """
            import keras


            class Batches(keras.utils.PyDataset):
                def __init__(self, images, labels, batch_size, **kwargs):
                    super().__init__(**kwargs)
                    self.images, self.labels = images, labels
                    self.batch_size = batch_size

                def __len__(self):
                    return len(self.images) // self.batch_size

                def __getitem__(self, index):
                    start = index * self.batch_size
                    stop = start + self.batch_size
                    return self.images[start:stop], self.labels[start:stop]
            """
        ),
        fix_title=None,
        fix_safety=FixSafety.NONE,
        fix_safety_note=_text(
            """
            There is no automatic fix: turning a stateful `__getitem__` into one
            computed from the index needs knowledge of the data.
            """
        ),
        references=(_PYDATASET,),
    ),
    Rule(
        code="SLD105",
        name="pydataset-drops-kwargs",
        summary=(
            "A `PyDataset` subclass's `__init__` does not pass `**kwargs` to "
            "`super().__init__`."
        ),
        message=(
            "{class_name}.__init__ {problem}: Keras 3's workers, use_multiprocessing and "
            "max_queue_size never reach PyDataset, so {class_name} loads on one thread; "
            "accept **kwargs and pass them to super().__init__ (Keras 3: {evidence})"
        ),
        what_it_does=_text(
            """
            Finds a subclass of `keras.utils.PyDataset` (or, when the module
            targets Keras 3, of `keras.utils.Sequence` or `tf.keras.utils.Sequence`,
            which are then the same class; or of a class in the same file whose
            `__init__` passes `**kwargs` on to one) whose `__init__` neither
            forwards `**kwargs` to `super().__init__` nor passes `workers`,
            `use_multiprocessing` or `max_queue_size` itself. The message names the
            evidence for Keras 3 (see SLD302 for how the Keras is decided).
            """
        ),
        why_bad=_text(
            """
            In Keras 3 the parallel-loading settings (`workers`,
            `use_multiprocessing`, `max_queue_size`) are arguments of
            `PyDataset.__init__`. A subclass that swallows them makes
            `Batches(..., workers=8)` either a `TypeError` or, worse, a silent
            single-threaded pipeline that starves the GPU.
            """
        ),
        example=_text(
            """
            import keras


            class Batches(keras.utils.PyDataset):
                def __init__(self, images, labels):
                    super().__init__()
                    self.images, self.labels = images, labels

                def __len__(self):
                    return len(self.images)

                def __getitem__(self, index):
                    return self.images[index], self.labels[index]
            """
        ),
        use_instead=_FORWARDING_PYDATASET,
        fix_title="Accept `**kwargs` in `__init__` and pass them to `super().__init__`",
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            Calls that passed no extra keyword arguments behave as before; calls
            that passed `workers` or `use_multiprocessing` now get them honoured
            instead of a `TypeError` or silence.
            """
        ),
        references=(_PYDATASET,),
    ),
    Rule(
        code="SLD201",
        name="lock-not-held-in-next",
        summary=(
            "A hand-written thread-safe iterator calls `next()` outside its lock, or "
            "takes a fresh `Lock()` on every call."
        ),
        message=(
            "{class_name}.{method} {problem}, so concurrent next() calls still race; "
            "{remedy} or use safeloader.ThreadSafeIterator"
        ),
        what_it_does=_text(
            """
            Finds an iterator class that creates a lock (`threading.Lock()` or
            `RLock()`) but advances the wrapped iterator in `__next__` (or `next`)
            without holding it, or that creates a new lock inside `__next__` so no
            two calls ever share one.
            """
        ),
        why_bad=_text(
            """
            This is the classic forum answer copied across thousands of
            repositories: a `threadsafe_iter` class whose lock is never taken around
            `next(self.it)`. It looks thread-safe and is not: with `workers` > 1 the
            generator is still resumed by two threads at once and training fails
            with `ValueError: generator already executing`.
            """
        ),
        example="import threading\n\n\n" + _iterator_wrapper(
            "threadsafe_iter",
            """
            def __next__(self):
                return next(self.it)
            """,
        ),
        use_instead=_LOCKED_ITERATOR,
        fix_title="Put the `next(...)` call under `with self.<lock>:`",
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The iterator yields the same items; concurrent calls are serialised, as
            the class intended.
            """
        ),
        references=(_ITERATOR,),
    ),
    Rule(
        code="SLD202",
        name="python2-next-method",
        summary="An iterator class defines Python 2's `next` but no `__next__`.",
        message=(
            "{class_name} defines next() but no __next__(): on Python 3 it is not an "
            "iterator, so next() and for-loops over it raise TypeError; add __next__"
        ),
        what_it_does=_text(
            """
            Finds a class with `__iter__` returning `self` and a `next` method
            callable without arguments, but no `__next__`. Only classes whose
            bases are all defined in the same file are judged: an imported base
            (say `six.Iterator`) may supply `__next__`.
            """
        ),
        why_bad=_text(
            """
            Python 3 calls `__next__`; `next` is only an ordinary method. The class
            was written for Python 2 and on Python 3 `next(obj)` raises
            `TypeError: 'threadsafe_iter' object is not an iterator`.
            """
        ),
        example="import threading\n\n\n" + _iterator_wrapper(
            "threadsafe_iter",
            """
            def next(self):
                with self.lock:
                    return self.it.next()
            """,
        ),
        use_instead=_LOCKED_ITERATOR,
        fix_title="Add `__next__`",
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The fix adds a `__next__` that does what `next` does; `next` stays for
            callers that use it by name. Inside `next`, Python 2's
            `self.it.next()` on the wrapped iterator becomes `next(self.it)`
            where it stands (under the lock, if it was), since a Python 3
            generator has no `.next` method.
            """
        ),
        references=(_ITERATOR,),
    ),
    Rule(
        code="SLD203",
        name="handwritten-threadsafe-wrapper",
        summary=(
            "A hand-written `threadsafe_iter`/`threadsafe_generator` pair that "
            "safeloader's runtime replaces (off by default)."
        ),
        message=(
            "hand-written {kind} '{name}' duplicates safeloader.{replacement}; use "
            "'from safeloader import {spelled}' instead"
        ),
        what_it_does=_text(
            """
            Finds a hand-written thread-safe iterator class (`threadsafe_iter` and
            similar names) or `threadsafe_generator` decorator defined in the
            project. Off by default: enable it with `--extend-select SLD203`.
            """
        ),
        why_bad=_text(
            """
            Every copy of the forum answer is one more place for the classic bugs
            (SLD201, SLD202) and none of them handles errors well: after the
            source raises, later callers see a silent `StopIteration`. safeloader's
            `ThreadSafeIterator` and `threadsafe_generator` are tested, re-raise
            the source's error in every thread and refuse to be pickled with a
            clear message.
            """
        ),
        example=_LOCKED_ITERATOR,
        use_instead=_text(
            """
            from safeloader import threadsafe_iter
            """
        ),
        fix_title="Replace the hand-written wrapper with an import from safeloader",
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The replacement has the same call signature. It differs where the
            hand-written copy was wrong: errors of the source are re-raised instead
            of ending iteration, and pickling raises a `TypeError`. The name stays
            importable from the module: a decorator, or a class the module never
            uses, keeps its import even where the module itself no longer reads it
            (another module may import it from there; flake8 may then call it
            unused, F401). The rule is off by default because rewriting working
            code is a matter of taste.
            """
        ),
        default_enabled=False,
        references=(_ITERATOR,),
    ),
    Rule(
        code="SLD301",
        name="deprecated-generator-method",
        summary=(
            "`fit_generator`/`evaluate_generator`/`predict_generator`: deprecated since "
            "TF 2.1, gone in Keras 3."
        ),
        message="{old}() is deprecated since TF 2.1 and removed in Keras 3; call {new}() instead",
        what_it_does=_text(
            """
            Finds calls of `fit_generator`, `evaluate_generator` and
            `predict_generator` on any receiver.
            """
        ),
        why_bad=_text(
            """
            Since TensorFlow 2.1 `fit`, `evaluate` and `predict` accept generators
            directly and the `*_generator` methods only forward to them with a
            deprecation warning. Keras 3 removed them: the call fails with
            `AttributeError`.
            """
        ),
        example=_text(
            """
            def train(model, batches):
                model.fit_generator(batches, 100, 10)
            """
        ),
        use_instead=_text(
            """
            def train(model, batches):
                model.fit(batches, steps_per_epoch=100, epochs=10)
            """
        ),
        fix_title=(
            "Rename to `fit`/`evaluate`/`predict`; `generator=` becomes `x=` and later "
            "positional arguments become keywords of the old signature; when Keras 3 is "
            "targeted, the loader settings get SLD302's fix in the same pass"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The new methods take the same arguments under the same names, so on
            Keras 2 the call does the same thing. Positional arguments after the
            first become keywords because the positions differ between the old and
            new signatures. On Keras 3 the renamed call is not always the old one:
            a `steps_per_epoch` larger than the `Sequence`'s length makes shorter
            epochs there (Keras 2 looped the `Sequence`; see SLD306, reported
            beside the rename), and a float `steps_per_epoch` gets SLD305's fix. When
            Keras 3 is targeted, `workers`, `use_multiprocessing` and `max_queue_size`
            move into the data's `PyDataset` constructor or go (see SLD302); where
            SLD302 would have no fix (data the analysis cannot identify), the call is
            not renamed either, since `fit(..., workers=4)` fails on Keras 3.
            """
        ),
        references=(_KERAS_FIT,),
    ),
    Rule(
        code="SLD302",
        name="keras3-loader-arguments-on-fit",
        summary=(
            "Keras 3: `workers`, `use_multiprocessing`, `max_queue_size` passed to "
            "`fit`/`evaluate`/`predict`."
        ),
        message=(
            "{call}() takes no {keywords} in Keras 3 (TypeError; Keras 3: {evidence}); "
            "{remedy}"
        ),
        what_it_does=_text(
            """
            When Keras 3 is targeted, finds calls of `fit`, `evaluate` and `predict`
            that pass `workers`, `use_multiprocessing` or `max_queue_size` (or the
            Keras 1 spellings `nb_worker`, `pickle_safe`, `max_q_size`). The message
            names the evidence for Keras 3. `--safeloader-keras-version 2` or `3`
            (on the command line, or in `setup.cfg`, `tox.ini` or `.flake8`) decides
            outright; with `auto` (the default) the Keras comes from, in order:
            the package the module runs on (a `tf_keras` import or
            `TF_USE_LEGACY_KERAS` set to `1` in the code mean Keras 2; `keras.ops`,
            `PyDataset` and other Keras-3-only APIs mean Keras 3); then the
            dependencies declared for it (a notebook's `%pip install` lines, then
            the project's files, found by walking up from the file:
            `pyproject.toml` with its Poetry, PDM, Hatch and dependency-group
            tables, `setup.cfg`, `setup.py`, `requirements*.txt`,
            `environment.yml`, `Pipfile`): a `keras` specifier that admits only
            2.x or only 3.x, else `tf_keras` (Keras 2), else a `tensorflow`
            specifier before 2.16 (Keras 2) or from 2.16 on (Keras 3); last,
            legacy usage (modules only Keras 2 has such as
            `keras.utils.data_utils`, `*_generator` calls, Keras 1 keywords),
            which means Keras 2 only when no declaration decides. A project that
            declares Keras 3 and still calls `fit_generator` is being migrated:
            this rule and SLD301's fix treat it as Keras 3. The installed Keras
            is never read unless you ask for it (`installed`). Without evidence
            the rule stays silent; `safeloader keras-version PATH` shows what
            was assumed, why, and which evidence conflicts.
            The message's advice is what is true of the data handed to the call:
            pass the settings to the constructor of a `PyDataset`, remove them for
            a generator (or use `safeloader.sharded_generator` for parallel batch
            preparation), arrays or a `tf.data` pipeline, and both answers where
            the analysis cannot tell.
            """
        ),
        why_bad=_text(
            """
            Keras 3 moved these settings to `keras.utils.PyDataset`; `fit` rejects
            them with `TypeError: ... got an unexpected keyword argument 'workers'`.
            Code ported from Keras 2 fails at the first training call.
            """
        ),
        example=_text(
            """
            import keras


            def train(model, dataset):
                model.fit(dataset, epochs=10, workers=4, use_multiprocessing=True)
            """
        ),
        use_instead=_FORWARDING_PYDATASET + "\n\n\n" + _text(
            """
            def train(model, images, labels):
                model.fit(Batches(images, labels, workers=4), epochs=10)
            """
        ),
        fix_title=(
            "When the data is built by the constructor of a `Sequence`/`PyDataset` class "
            "the project defines (in the call, or through a name bound once to that call), "
            "move the settings into that constructor call, with SLD105's fix on the class "
            "if its `__init__` would drop them; when the data is surely not a `PyDataset` "
            "(a generator, arrays, a `tf.data` pipeline), remove them"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The original call cannot run on Keras 3 (`TypeError`), so nothing that
            worked changes. Moved settings give the `PyDataset` the workers the call
            asked for. Removing them from a generator loses nothing: Keras 3 on the
            TensorFlow backend already reads a generator in the background (one item
            at a time, as Keras 2's locked workers did); for real parallel reading use
            `safeloader.sharded_generator` or `safeloader.data.from_generator`. Data
            the analysis cannot identify (a parameter, an unknown callee) gets no
            fix: deleting the settings there could silently make a `PyDataset`
            single-threaded.
            """
        ),
        keras3_only=True,
        references=(_PYDATASET,),
    ),
    Rule(
        code="SLD303",
        name="keras3-non-generator-iterator",
        summary=(
            "Keras 3: an iterator that is not a generator (a hand-written lock wrapper) "
            "is passed to `fit`/`evaluate`/`predict`."
        ),
        message=(
            "{data} is {kind}, a hand-written iterator but not a generator: Keras 3's "
            "{call}() rejects it with ValueError: Unrecognized data type (Keras 3: "
            "{evidence}); {remedy}"
        ),
        what_it_does=_text(
            """
            When Keras 3 is targeted, finds the data (`x`, or `validation_data`) of
            `fit`, `evaluate`, `predict` or their `*_generator` forms that is an
            instance of a hand-written iterator wrapper class, or the result of a
            generator function decorated with a hand-written wrapper decorator (or
            of such a method, `data.frame_generator(...)`, on an object of a
            project class): the argument itself, or a name bound once to it.
            Wrappers are
            recognised by their structure, whatever their name: a class (no base
            but `object`) whose `__iter__` returns `self` and whose `__next__` (or
            Python 2 `next`) returns the next item of an iterator it was given in
            `__init__` (`next(self.it)`, `self.it.__next__()`, `self.it.next()`),
            and a decorator `def deco(f)` whose inner function returns
            `Wrapper(f(*a, **kw))`. The classes and decorators defined at the top
            level of the module, or of a project module it imports from, are
            followed (the forum's recipe keeps them in `data.py`, beside the
            data class, and `train.py` calls `fit`); the fix is made where they
            are defined.
            """
        ),
        why_bad=_text(
            """
            Keras 3 accepts a Python iterator only when it is a generator
            (`isinstance(x, types.GeneratorType)`); any other iterator object, the
            forum's `threadsafe_iter` lock wrapper included, fails at the first
            call with `ValueError: Unrecognized data type`. Keras 2 took any
            iterator, so code that trained for years stops at once after the
            upgrade. safeloader's `ThreadSafeIterator` and `threadsafe_generator`
            are accepted by Keras 3 as generators and stay thread-safe under Keras
            2's `workers`.
            """
        ),
        example="import threading\n\nimport keras\n\n\n" + _iterator_wrapper(
            "threadsafe_iterator", _LOCKED_NEXT
        ) + "\n\n\n" + _text(
            """
            def threadsafe_generator(f):
                def g(*a, **kw):
                    return threadsafe_iterator(f(*a, **kw))
                return g


            @threadsafe_generator
            def batches(images, labels):
                while True:
                    yield images, labels


            def train(model: keras.Model, images, labels):
                model.fit(batches(images, labels), steps_per_epoch=100)
            """
        ),
        use_instead=_text(
            """
            import keras

            from safeloader import threadsafe_generator


            @threadsafe_generator
            def batches(images, labels):
                while True:
                    yield images, labels


            def train(model: keras.Model, images, labels):
                model.fit(batches(images, labels), steps_per_epoch=100)
            """
        ),
        fix_title=(
            "Replace the hand-written decorator with `safeloader.threadsafe_generator` and "
            "the wrapper class with `safeloader.ThreadSafeIterator`, imported under their "
            "names (an import nothing uses any more is left out, and so are the imports "
            "only the removed code used)"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The original cannot run on Keras 3, so nothing that worked changes. The
            fix applies only where the class has nothing but `__init__(self, it)`,
            `__iter__` and a `__next__`/`next` that hands on the wrapped iterator's
            items (with or without a lock), so the runtime's class can take its
            place under its own name; every use of the names keeps resolving, in
            this module and in the modules that import them from it (a wrapper in
            another project module is fixed there). Errors of the source are
            re-raised to every later caller instead of
            ending iteration, and pickling the iterator raises a `TypeError` that
            says why. Other wrappers are reported without a fix.
            """
        ),
        keras3_only=True,
        references=(_KERAS_FIT, _ITERATOR),
    ),
    Rule(
        code="SLD304",
        name="keras3-list-batches",
        summary=(
            "Keras 3: a `Sequence`/`PyDataset` `__getitem__` returns lists inside its "
            "batch (`return [x1, x2], [y]`)."
        ),
        message=(
            "{class_name}.__getitem__ returns the list {shown} inside its batch: Keras 3 "
            "on TensorFlow raises TypeError (output_signature) for lists there (Keras 3: "
            "{evidence}); make it a tuple"
        ),
        what_it_does=_text(
            """
            When Keras 3 is targeted, finds the list displays inside the batches a
            `Sequence`/`PyDataset` subclass's `__getitem__` returns: the elements
            of a returned tuple or list display (`return [x1, x2], [y]`), nested
            ones too, list comprehensions there (`return [x[k] for k in keys], y`),
            and a name bound once in `__getitem__` to one of those and returned as
            such an element (`inputs = [a, b]` ... `return inputs, y`). A list
            returned as the whole batch (`return [x, y]`) works and is not
            reported; lists the analysis cannot see (built by a call or grown
            with `append`) are not guessed at.
            """
        ),
        why_bad=_text(
            """
            Keras 2 took `([x1, x2], [y])`, the usual multi-input style. Keras 3 on
            the TensorFlow backend builds a `tf.data` pipeline from the first
            batches and its `output_signature` cannot hold a list: `fit` stops at
            once with `TypeError: output_signature must contain objects that are
            subclass of tf.TypeSpec but found <class 'list'>`. Tuples mean the
            same to every Keras and work.
            """
        ),
        example=_text(
            """
            import keras


            class Pairs(keras.utils.PyDataset):
                def __init__(self, left, right, labels, **kwargs):
                    super().__init__(**kwargs)
                    self.left, self.right, self.labels = left, right, labels

                def __len__(self):
                    return len(self.labels)

                def __getitem__(self, index):
                    return [self.left[index], self.right[index]], [self.labels[index]]
            """
        ),
        use_instead=_text(
            """
            import keras


            class Pairs(keras.utils.PyDataset):
                def __init__(self, left, right, labels, **kwargs):
                    super().__init__(**kwargs)
                    self.left, self.right, self.labels = left, right, labels

                def __len__(self):
                    return len(self.labels)

                def __getitem__(self, index):
                    return (self.left[index], self.right[index]), (self.labels[index],)
            """
        ),
        fix_title=(
            "Turn the list display into a tuple display, and a list comprehension "
            "into `tuple(...)` of the same generator expression"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The original cannot run on Keras 3, and a tuple carries the same inputs
            or targets in the same order. Only the brackets change (a single
            element gets its trailing comma); a comprehension keeps its
            expression and clauses, inside `tuple(...)`, and is not fixed where
            `tuple` names something else. A name bound to the list is fixed
            where it is bound, only when `__getitem__` uses it nowhere but in its
            returned batches; otherwise it is reported without a fix.
            """
        ),
        keras3_only=True,
        references=(_PYDATASET,),
    ),
    Rule(
        code="SLD305",
        name="keras3-float-steps",
        summary=(
            "Keras 3: a float `steps_per_epoch`, `validation_steps` or `steps` "
            "(e.g. `n * 0.7 // batch`)."
        ),
        message=(
            "{param}={value} is a float: Keras 3's {call}() raises TypeError where Keras 2 "
            "ran ceil({param}) steps (Keras 3: {evidence}); {remedy}"
        ),
        what_it_does=_text(
            """
            When Keras 3 is targeted, finds a `steps_per_epoch` or
            `validation_steps` of `fit` (and `steps` of `evaluate` and `predict`,
            and the same arguments of the `*_generator` forms, by keyword or by
            position) whose value is surely a float: a float literal, a true
            division (`n / batch`), arithmetic with a float operand (`n * 0.7 //
            batch`: floor division of a float is still a float), `float(...)`,
            NumPy's `ceil`, `floor`, `trunc`, `rint` or `divide`, or a name bound
            once to one of these. `//` of integers, `int(...)`, `len(...)`,
            `round(x)` and `math.ceil`/`math.floor` give integers and are not
            reported.
            """
        ),
        why_bad=_text(
            """
            Keras 2 counted steps with `while step < steps_per_epoch`, so a float
            ran `ceil(steps_per_epoch)` steps (2.5 ran 3, 2.0 ran 2). Keras 3
            passes the value to `range()`: `TypeError: 'float' object cannot be
            interpreted as an integer` at the first call. `fit_generator(...,
            (n * 0.7) // batch)` worked for years and fails after the rename to
            `fit`.
            """
        ),
        example=_text(
            """
            import keras


            def train(model: keras.Model, batches, samples, batch_size):
                model.fit(batches, steps_per_epoch=samples * 0.8 // batch_size, epochs=10)
            """
        ),
        use_instead=_text(
            """
            import math

            import keras


            def train(model: keras.Model, batches, samples, batch_size):
                model.fit(batches, steps_per_epoch=math.ceil(samples * 0.8 // batch_size),
                          epochs=10)
            """
        ),
        fix_title=(
            "Round the value up as Keras 2 counted it: a literal becomes the integer "
            "`math.ceil` gives, any other value is wrapped in `math.ceil(...)` (with "
            "`import math`)"
        ),
        fix_safety=FixSafety.SAFE,
        fix_safety_note=_text(
            """
            The original cannot run on Keras 3. Keras 2 (tf_keras' data handler,
            and the `*_generator` loops before it) ran steps while the step index
            was below the value, which is `math.ceil` of it for every positive
            value: the fixed call runs exactly the steps the Keras 2 call ran (the
            tests run both and count them). A literal that is not positive, and an
            expression in a function that binds `math` or `ceil` itself, are
            reported without a fix.
            """
        ),
        keras3_only=True,
        references=(_KERAS_FIT,),
    ),
    Rule(
        code="SLD306",
        name="keras3-steps-beyond-dataset",
        summary=(
            "Keras 3: `steps_per_epoch` is provably larger than `len()` of the "
            "`Sequence`/`PyDataset` it reads."
        ),
        message=(
            "{param}={value} exceeds {length}, the batches {data} has: Keras 3 ends each "
            "epoch there with only a warning, where Keras 2's workers looped the Sequence "
            "(Keras 3: {evidence}); {remedy}"
        ),
        what_it_does=_text(
            """
            When Keras 3 is targeted, finds `steps_per_epoch` (`validation_steps`
            for `validation_data`, `steps` of `evaluate`/`predict`) that is surely
            larger than the length of the `Sequence`/`PyDataset` of the project
            that the call reads: `len(data) * k` or `k * len(data)` with a literal
            `k` above 1, `len(data) + k` with a literal `k` of 1 or more, where
            `data` is the name passed as the data; or a literal larger than the
            literal its class's `__len__` returns.
            """
        ),
        why_bad=_text(
            """
            Keras 2 fed a `Sequence` through an enqueuer that, with `workers` (or
            `fit_generator`'s defaults before tf.keras), started over at the end,
            so `steps_per_epoch=len(seq) * 8` made one epoch eight passes. Keras 3
            stops the epoch when the `PyDataset` runs out ("Your input ran out of
            data") and starts the next one: every epoch silently shrinks to one
            pass, and schedules, callbacks and checkpoints keyed to epochs change
            meaning. (tf_keras with one worker stopped training altogether.)
            """
        ),
        example=_text(
            """
            import keras


            class Batches(keras.utils.PyDataset):
                def __len__(self):
                    return 100

                def __getitem__(self, index):
                    return load(index)


            def main(model):
                data = Batches()
                model.fit(data, steps_per_epoch=len(data) * 8, epochs=10)
            """
        ),
        use_instead=_text(
            """
            import keras


            class Batches(keras.utils.PyDataset):
                def __len__(self):
                    return 100

                def __getitem__(self, index):
                    return load(index)


            def main(model):
                data = Batches()
                model.fit(data, epochs=80)
            """
        ),
        fix_title=None,
        fix_safety=FixSafety.NONE,
        fix_safety_note=_text(
            """
            There is no automatic fix: what an epoch should be is the author's
            choice. Either leave `steps_per_epoch` out and multiply `epochs` (an
            epoch is then one pass), or make the class's `__len__` return the
            batches an epoch should have and read index `i % n` of the data in
            `__getitem__`; both change epoch-keyed callbacks and schedules, which
            a rewrite must not do silently. SLD301's rename of `fit_generator`
            does not preserve such a call's behaviour on Keras 3 either.
            """
        ),
        keras3_only=True,
        references=(_KERAS_FIT, _PYDATASET),
    ),
)

#: SLD302's ``{remedy}``, by what the analysis knows of the data handed to ``fit``:
#: a ``Sequence``/``PyDataset`` of the project (``{cls}``: its class), a generator,
#: data held in memory or a ``tf.data`` pipeline, or nothing sure
SLD302_REMEDIES: Mapping[str, str] = {
    "dataset": "pass them to {cls}(...), a PyDataset",
    "generator": (
        "remove them: Keras 3 already reads a generator in the background "
        "(for parallel batch preparation, use safeloader.sharded_generator)"
    ),
    "in_memory": "remove them: Keras 3 loads arrays and tf.data pipelines without them",
    "unknown": (
        "if the data is a PyDataset, pass them to its constructor; if it is a generator, "
        "remove them (Keras 3 already reads it in the background; for parallel batch "
        "preparation, use safeloader.sharded_generator)"
    ),
}

#: Every rule by code, in code order.
RULES: Mapping[str, Rule] = {rule.code: rule for rule in sorted(_RULE_LIST, key=lambda r: r.code)}


def render_markdown(rule: Rule) -> str:
    """Return the documentation page of ``rule`` in Markdown, under ruff's headings."""
    enabled = "" if rule.default_enabled else (
        f"\n\nThis rule is off by default; enable it with `--extend-select {rule.code}`. "
        "Selecting the whole family (`--select SLD` or `--extend-select SLD`) enables it "
        "too: in flake8 an explicit selection beats a default ignore."
    )
    keras3 = "\n\nThis rule fires only when Keras 3 is targeted." if rule.keras3_only else ""
    fix = (
        f"**Fix** ({rule.fix_safety.value}): {rule.fix_title}.\n\n"
        if rule.fix_title is not None
        else ""
    )
    references = "\n".join(f"- <{url}>" for url in rule.references)
    notebook = (f"## In a notebook\n\n{rule.notebook_note}\n\n"
                if rule.notebook_note is not None else "")
    return (
        f"# {rule.code} ({rule.name})\n\n"
        f"{rule.summary}{enabled}{keras3}\n\n"
        f"## What it does\n\n{rule.what_it_does}\n\n"
        f"## Why is this bad?\n\n{rule.why_bad}\n\n"
        f"{notebook}"
        f"## Example\n\n```python\n{rule.example}\n```\n\n"
        f"## Use instead\n\n```python\n{rule.use_instead}\n```\n\n"
        f"## Fix safety\n\n{fix}{rule.fix_safety_note}\n\n"
        f"## References\n\n{references}\n"
    )


def print_rule_docs(code: str) -> int:
    """Print the documentation of rule ``code`` (``all``: every rule); return the exit status.

    An unknown code prints a message naming it and the known codes on stderr
    and returns 2.
    """
    wanted = code.strip().upper()
    if wanted == "ALL":
        print("\n".join(render_markdown(rule) for rule in RULES.values()), end="")
        return 0
    rule = RULES.get(wanted)
    if rule is None:
        known = ", ".join(RULES)
        print(f"safeloader: unknown rule {code!r}; known rules: {known}", file=sys.stderr)
        return 2
    print(render_markdown(rule), end="")
    return 0
