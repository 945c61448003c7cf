"""SLD104 and SLD105: Keras ``Sequence`` / ``PyDataset`` subclasses that break under workers.

SLD104: ``__getitem__`` is called for many indices at once by worker threads,
so it must compute a batch from its index alone. It must not advance a shared
generator (``next(self.gen)``) or change ``self`` (``self.i += 1``,
``self.batch = ...``, ``self.queue.pop()``, shuffling ``self.indices`` in place).
Not reported, because they do not race in a harmful way: storing into a
container (``self.cache[idx] = batch``, memoisation), adding to one
(``self.seen.append(idx)``), a lazy ``if self.f is None: self.f = open(...)``,
and anything under ``with self.lock:``. Methods of the class (or of a base
class in the file) that ``__getitem__`` calls as ``self.helper(...)`` are
followed, transitively but at most :data:`MAX_HELPER_DEPTH` calls deep, and
what they do is reported at the call in ``__getitem__``.

SLD105: Keras 3's ``PyDataset.__init__`` takes ``workers``,
``use_multiprocessing`` and ``max_queue_size``; a subclass whose ``__init__``
neither forwards ``**kwargs`` nor passes one of them explicitly silently runs
on one thread.
"""

from __future__ import annotations

import ast
from typing import Callable, Iterator

from safeloader.analysis.class_index import (
    HELD,
    MAX_BASE_DEPTH,
    ModuleIndex,
    Where,
    class_attribute_names,
    class_methods,
    first_param,
    is_lockish_name,
    is_plain_method,
    local_nodes,
    lock_attributes,
    owner_attribute,
    rooted_at,
    source_text,
    span_of,
    walk_method,
)
from safeloader.analysis.generators import has_own_yield
from safeloader.analysis.keras_version import KerasTarget
from safeloader.findings import Finding, Fix, FixKind
from safeloader.rules import RULES

#: the ``PyDataset.__init__`` parameters a subclass must let through
_LOADER_SETTINGS = frozenset({"workers", "use_multiprocessing", "max_queue_size"})
#: methods that take items out of, or reorder, a container in place
_CONSUMING_METHODS = frozenset({"pop", "popleft", "popitem", "clear", "remove", "sort",
                                "reverse"})
#: methods that advance an iterator
_ADVANCING_METHODS = frozenset({"__next__", "send"})
#: ``self.helper()`` calls are followed from ``__getitem__`` this many calls deep, no
#: further (SLD104): a long or recursive chain of helpers must not cost without bound
MAX_HELPER_DEPTH = 8


def derives_from_dataset(index: ModuleIndex, node: ast.ClassDef,
                         seen: frozenset[int] = frozenset()) -> bool:
    """Whether ``node`` derives from Keras' ``Sequence`` or ``PyDataset`` (through this file)."""
    for base in node.bases:
        if index.names_keras(base, "Sequence") or index.names_keras(base, "PyDataset"):
            return True
        parent = index.in_file_class(base)
        if (parent is not None and id(parent) not in seen and len(seen) < MAX_BASE_DEPTH
                and derives_from_dataset(index, parent, seen | {id(node)})):
            return True
    return False


def _names_pydataset(index: ModuleIndex, base: ast.expr, keras3: Callable[[], bool]) -> bool:
    if index.names_keras(base, "PyDataset"):
        return True
    # Keras 3's keras.utils.Sequence is PyDataset, and so is tf.keras' from TF 2.16 on
    # (where tf.keras is Keras 3); tf_keras' and TensorFlow's legacy copy never are.
    names = index.qualified_names(base)
    return (bool(names) and all(_is_modern_sequence(q) for q in names) and keras3())


def _is_modern_sequence(qualified: str) -> bool:
    return qualified.endswith(".Sequence") and (
        qualified.startswith("keras.") or qualified.startswith("tensorflow.keras."))


#: where a ``super().__init__`` call lands: in Keras' ``PyDataset.__init__``, or in an
#: ``__init__`` of this file that passes its ``**kwargs`` on towards it
_KERAS_INIT = "keras"
_FORWARDING_INIT = "forwarding"


def _init_target(index: ModuleIndex, base: ast.expr, keras3: Callable[[], bool],
                 seen: frozenset[int]) -> str | None:
    """Where ``super().__init__`` through ``base`` lands (``None``: elsewhere or unknown)."""
    if _names_pydataset(index, base, keras3):
        return _KERAS_INIT
    parent = index.in_file_class(base)
    if parent is None or id(parent) in seen or len(seen) >= MAX_BASE_DEPTH:
        return None
    seen = seen | {id(parent)}
    init = class_methods(parent).get("__init__")
    if init is not None:
        return _FORWARDING_INIT if _forwards_kwargs(index, parent, init, keras3, seen) else None
    targets = {_init_target(index, b, keras3, seen) for b in parent.bases}
    return next((t for t in (_KERAS_INIT, _FORWARDING_INIT) if t in targets), None)


def _forwards_kwargs(index: ModuleIndex, cls: ast.ClassDef,
                     init: ast.FunctionDef | ast.AsyncFunctionDef, keras3: Callable[[], bool],
                     seen: frozenset[int]) -> bool:
    """Whether ``cls.__init__`` takes ``**kw`` (and no loader setting by name) and passes
    it to a ``super().__init__`` that reaches ``PyDataset``."""
    args = init.args
    named = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    owner = first_param(init)
    if (not isinstance(init, ast.FunctionDef) or args.kwarg is None or owner is None
            or len(cls.bases) != 1 or named & _LOADER_SETTINGS):
        return False
    kwargs = args.kwarg.arg
    forwarded = any(
        isinstance(n, ast.Call) and is_super_init_call(n, owner)
        and any(k.arg is None and isinstance(k.value, ast.Name) and k.value.id == kwargs
                for k in n.keywords)
        for n in local_nodes(init))
    return forwarded and _init_target(index, cls.bases[0], keras3, seen) is not None


def is_super_init_call(call: ast.Call, owner: str) -> bool:
    """``super().__init__(...)``, ``super(C, self).__init__(...)``, ``Base.__init__(self, ...)``."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "__init__"):
        return False
    value = func.value
    if isinstance(value, ast.Call):
        return isinstance(value.func, ast.Name) and value.func.id == "super"
    return (bool(call.args) and isinstance(call.args[0], ast.Name)
            and call.args[0].id == owner)


def _passes_settings_on(call: ast.Call) -> bool:
    """Whether a call of a forwarding ``__init__`` of this file may carry a loader setting."""
    return (any(isinstance(arg, ast.Starred) for arg in call.args)
            or any(kw.arg is None or kw.arg in _LOADER_SETTINGS for kw in call.keywords))


def _lets_settings_through(call: ast.Call) -> bool:
    """Whether a call of ``PyDataset.__init__`` forwards ``**kwargs`` or passes a loader
    setting (or may, by position)."""
    explicit_self = not isinstance(call.func, ast.Attribute) or not isinstance(
        call.func.value, ast.Call)
    positional = call.args[1:] if explicit_self else call.args
    if positional:
        return True
    return any(kw.arg is None or kw.arg in _LOADER_SETTINGS for kw in call.keywords)


def _names_used(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = {arg.arg for arg in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
    names.update(a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None)
    names.update(n.id for n in local_nodes(fn) if isinstance(n, ast.Name))
    return names


def _check_init(index: ModuleIndex, node: ast.ClassDef, target: Callable[[], KerasTarget],
                ) -> Iterator[Finding]:

    def keras3() -> bool:
        return target().version == "3"

    init = class_methods(node).get("__init__")
    if init is None:
        return
    targets = {_init_target(index, base, keras3, frozenset({id(node)})) for base in node.bases}
    if _KERAS_INIT in targets:
        lets_through = _lets_settings_through
    elif _FORWARDING_INIT in targets and len(node.bases) == 1:
        lets_through = _passes_settings_on
    else:
        return
    owner = first_param(init)
    if owner is None:
        return
    calls = [n for n in local_nodes(init)
             if isinstance(n, ast.Call) and is_super_init_call(n, owner)]
    if any(lets_through(call) for call in calls):
        return
    if not calls:
        problem = "never calls super().__init__"
    elif init.args.kwarg is not None:
        problem = f"takes **{init.args.kwarg.arg} but does not pass it to super().__init__"
    else:
        problem = "takes no **kwargs to pass to super().__init__"
    version = target()
    evidence = version.evidence if version.version == "3" else "subclasses PyDataset"
    message = RULES["SLD105"].format(class_name=node.name, problem=problem, evidence=evidence)
    # a new super().__init__(**kwargs) is sure to land in PyDataset's only with one base
    may_add_call = _KERAS_INIT in targets and len(node.bases) == 1
    yield Finding("SLD105", init.lineno, init.col_offset, message,
                  _forward_fix(node, init, calls, may_add_call))


def _forward_fix(node: ast.ClassDef, init: ast.FunctionDef | ast.AsyncFunctionDef,
                 calls: list[ast.Call], may_add_call: bool) -> tuple[Fix, ...]:
    """The FORWARD_KWARGS fix, when the rewrite cannot change what the code means."""
    if not isinstance(init, ast.FunctionDef) or len(calls) > 1 or not (calls or may_add_call):
        return ()
    if init.args.kwarg is not None:
        kwargs = init.args.kwarg.arg
        uses = [n for n in local_nodes(init) if isinstance(n, ast.Name) and n.id == kwargs]
        if uses:  # the body reads the dict itself: forwarding all of it may pass unknown keys
            return ()
    else:
        kwargs = "kwargs"
        if kwargs in _names_used(init):
            return ()
    params = {"class_name": node.name, "kwargs": kwargs, "super_calls": str(len(calls))}
    return (Fix(FixKind.FORWARD_KWARGS, span_of(init), params=params),)


def _local_names(fn: ast.FunctionDef) -> set[str]:
    """Names local to ``fn``: parameters and everything it binds, less ``global`` ones."""
    names = {arg.arg for arg in [*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs]}
    names.update(a.arg for a in (fn.args.vararg, fn.args.kwarg) if a is not None)
    declared: set[str] = set()
    for node in local_nodes(fn):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
    return names - declared


def _flat_targets(targets: list[ast.expr]) -> Iterator[ast.expr]:
    stack = list(reversed(targets))
    while stack:
        target = stack.pop()
        if isinstance(target, (ast.Tuple, ast.List)):
            stack.extend(reversed(target.elts))
        elif isinstance(target, ast.Starred):
            stack.append(target.value)
        else:
            yield target


def _hazard(node: ast.AST, where: Where, owner: str, local: set[str]) -> str | None:
    """What ``node`` does to shared state, as a phrase for the message; ``None``: nothing."""
    if isinstance(node, ast.Call):
        return _call_hazard(node, owner, local)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in _flat_targets(list(targets)):
            attr = owner_attribute(target, owner)
            if attr is not None and attr not in where.tested:
                return f"assigns {owner}.{attr}"
        return None
    if isinstance(node, ast.AugAssign):
        target = node.target
        if owner_attribute(target, owner) is not None or (
                isinstance(target, ast.Subscript) and rooted_at(target, owner)):
            return f"updates {source_text(target)} in place"
        return None
    if isinstance(node, ast.Delete):
        for target in _flat_targets(list(node.targets)):
            attr = owner_attribute(target, owner)
            if attr is not None:
                return f"deletes {owner}.{attr}"
    return None


def _call_hazard(call: ast.Call, owner: str, local: set[str]) -> str | None:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "next" and "next" not in local:
        if not call.args or isinstance(call.args[0], ast.Starred):
            return None
        arg = call.args[0]
        if rooted_at(arg, owner):
            return f"calls next({source_text(arg)}) on a generator shared by every worker"
        if isinstance(arg, ast.Name) and arg.id not in local:
            return (f"calls next({arg.id}) on a generator from outside the method, shared by "
                    f"every worker")
        return None
    if isinstance(func, ast.Attribute):
        if func.attr in _ADVANCING_METHODS and rooted_at(func.value, owner):
            return f"calls {source_text(func.value)}.{func.attr}() on a shared iterator"
        if func.attr in _CONSUMING_METHODS and rooted_at(func.value, owner):
            return f"calls {source_text(func.value)}.{func.attr}() on shared state"
    shuffles = (isinstance(func, ast.Name) and func.id == "shuffle") or (
        isinstance(func, ast.Attribute) and func.attr == "shuffle")
    if shuffles and call.args and rooted_at(call.args[0], owner):
        return f"shuffles {source_text(call.args[0])} in place"
    return None


def _check_getitem(index_of_module: ModuleIndex, node: ast.ClassDef) -> Iterator[Finding]:
    getitem = class_methods(node).get("__getitem__")
    if getitem is None or not isinstance(getitem, ast.FunctionDef) or not is_plain_method(getitem):
        return
    owner = first_param(getitem)
    if owner is None:
        return
    positional = [*getitem.args.posonlyargs, *getitem.args.args]
    index = positional[1].arg if len(positional) > 1 else "i"
    helpers = _HelperEffects(index_of_module, node)

    for child, where in helpers.walk(getitem, owner):
        if where.lock == HELD:
            continue
        what = _hazard(child, where, owner, helpers.local_names(getitem))
        if what is None:
            what = helpers.call_effect(child, owner, where)
        if what is not None:
            yield Finding(
                "SLD104", getattr(child, "lineno", getitem.lineno),
                getattr(child, "col_offset", getitem.col_offset),
                RULES["SLD104"].format(class_name=node.name, action=what, index=index))


def helper_methods(index: ModuleIndex, node: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    """The plain methods ``self.name(...)`` runs in ``node``'s instances, by name.

    The class's own methods first, then those of its bases defined in the file,
    depth first (Python's order when no class is reached twice), at most
    :data:`MAX_BASE_DEPTH` classes. Keras' ``Sequence``/``PyDataset`` bases are
    passed over; any other base the file does not define ends the search, since
    it may define the name first. A name the class body binds otherwise
    (``helper = other``) is no method here.
    """
    methods: dict[str, ast.FunctionDef] = {}
    shadowed: set[str] = set()
    pending: list[ast.ClassDef] = [node]
    seen: set[int] = set()
    while pending and len(seen) < MAX_BASE_DEPTH:
        cls = pending.pop()
        if id(cls) in seen:
            continue
        seen.add(id(cls))
        shadowed |= class_attribute_names(cls)
        for name, method in class_methods(cls).items():
            if name not in methods and name not in shadowed:
                if isinstance(method, ast.FunctionDef) and is_plain_method(method):
                    methods[name] = method
                shadowed.add(name)
        bases: list[ast.ClassDef] = []
        for base in cls.bases:
            parent = index.in_file_class(base)
            if parent is not None:
                bases.append(parent)
            elif not (index.names_keras(base, "Sequence") or index.names_keras(base, "PyDataset")):
                return methods
        pending.extend(reversed(bases))
    return methods


class _HelperEffects:
    """What the ``self.helper(...)`` calls of a dataset's ``__getitem__`` do to shared state.

    Each helper's effect is worked out once per set of enclosing lazy-init tests
    (memoised), a helper already on the chain is not entered again (recursion),
    and chains end at :data:`MAX_HELPER_DEPTH` calls: a result cut short by
    either is not memoised, so it never hides what a shorter path finds.
    """

    def __init__(self, index: ModuleIndex, node: ast.ClassDef):
        self.index = index
        self.node = node
        self.methods = helper_methods(index, node)
        self.locks = lock_attributes(index, node)
        self._locals: dict[int, set[str]] = {}
        self._memo: dict[tuple[str, frozenset[str]], str | None] = {}

    def local_names(self, fn: ast.FunctionDef) -> set[str]:
        """:func:`_local_names` of ``fn``, once."""
        if id(fn) not in self._locals:
            self._locals[id(fn)] = _local_names(fn)
        return self._locals[id(fn)]

    def walk(self, fn: ast.FunctionDef, owner: str) -> Iterator[tuple[ast.AST, Where]]:
        """The nodes of ``fn`` with where they sit; a ``with`` item that reads as a lock
        holds it (fresh locks are SLD201's)."""

        def classify(expr: ast.expr) -> str | None:
            if isinstance(expr, ast.Call):
                return None
            last = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
            held = is_lockish_name(last) or owner_attribute(expr, owner) in self.locks
            return HELD if held else None

        return walk_method(fn, owner, classify)

    def helper_called(self, node: ast.AST, owner: str) -> str | None:
        """The helper's name when ``node`` is ``owner.helper(...)`` of a known plain method
        whose body runs when called (not a generator method)."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return None
        func = node.func
        if not (isinstance(func.value, ast.Name) and func.value.id == owner):
            return None
        method = self.methods.get(func.attr)
        if method is None or has_own_yield(method):
            return None
        return func.attr

    def call_effect(self, node: ast.AST, owner: str, where: Where) -> str | None:
        """The message phrase for ``node`` when it calls a helper that changes shared
        state (``calls self.a() -> self.b(), which assigns self.x``), else ``None``."""
        name = self.helper_called(node, owner)
        if name is None:
            return None
        found, _ = self._effect(name, where.tested, (name,))
        if found is None:
            return None
        chain, what = found
        calls = " -> ".join(f"{owner}.{step}()" for step in chain)
        return f"calls {calls}, which {what}"

    def _effect(self, name: str, tested: frozenset[str], active: tuple[str, ...],
                ) -> tuple[tuple[tuple[str, ...], str] | None, bool]:
        """The first hazard that running helper ``name`` meets: the helpers from ``name``
        down to the one that does it, and the phrase; and whether the search was cut
        short (a helper already in ``active``, the chain so far, or too deep)."""
        key = (name, tested)
        if key in self._memo:
            return self._memo[key], False
        helper = self.methods[name]
        owner = first_param(helper)
        assert owner is not None  # plain methods have a self
        # a helper run under ``if self.x is None:`` that sets self.x is a lazy initialiser:
        # the other attributes it sets belong to the same one-time set-up
        lazy = bool(tested) and any(
            owner_attribute(target, owner) in tested
            for stmt in local_nodes(helper) if isinstance(stmt, (ast.Assign, ast.AnnAssign))
            for target in _flat_targets(
                list(stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target])))
        cut = False
        found: tuple[tuple[str, ...], str] | None = None
        for child, where in self.walk(helper, owner):
            if where.lock == HELD:
                continue
            inner = Where(where.lock, where.tested | tested, where.statement)
            if not (lazy and isinstance(child, (ast.Assign, ast.AnnAssign))):
                what = _hazard(child, inner, owner, self.local_names(helper))
                if what is not None:
                    found = ((name,), what)
                    break
            callee = self.helper_called(child, owner)
            if callee is None:
                continue
            if callee in active or len(active) >= MAX_HELPER_DEPTH:
                cut = True
                continue
            deeper, deeper_cut = self._effect(callee, inner.tested, (*active, callee))
            if deeper is not None:
                found = ((name, *deeper[0]), deeper[1])
                break
            cut = cut or deeper_cut
        if found is not None or not cut:
            self._memo[key] = found
        return found, cut if found is None else False


def loader_settings_route(index: ModuleIndex, node: ast.ClassDef,
                          target: Callable[[], KerasTarget]) -> tuple[Fix, ...] | None:
    """How Keras 3 loader settings given to ``node(...)`` reach ``PyDataset.__init__``.

    ``()``: they already do (no ``__init__`` of its own, or one that forwards
    ``**kwargs``); SLD105's fix, when applying it makes them; ``None``: neither
    (not a dataset, several bases, or an ``__init__`` the fix cannot change).
    """

    def keras3() -> bool:
        return target().version == "3"

    if len(node.bases) != 1 or not derives_from_dataset(index, node):
        return None
    if _init_target(index, node.bases[0], keras3, frozenset({id(node)})) is None:
        return None
    init = class_methods(node).get("__init__")
    if init is None or _forwards_kwargs(index, node, init, keras3, frozenset({id(node)})):
        return ()
    for finding in _check_init(index, node, target):
        if finding.fixes:
            return finding.fixes
    return None


def check_dataset_class(index: ModuleIndex, node: ast.ClassDef,
                        target: Callable[[], KerasTarget]) -> Iterator[Finding]:
    """SLD104 and SLD105 findings of one class (nothing unless it is a Keras dataset).

    ``target()`` gives the Keras the module targets; under Keras 3
    ``keras.utils.Sequence`` and ``tf.keras.utils.Sequence`` are ``PyDataset``
    (asked only when that matters).
    """
    if not derives_from_dataset(index, node):
        return
    yield from _check_getitem(index, node)
    yield from _check_init(index, node, target)
