"""Adding and removing a call's arguments in the layout the call already has.

A handler that edits an argument list uses these instead of building the
list itself, so that people reading the diff see the call as its author wrote
it: arguments added one per line (at the same indentation) when the call has
one per line, inline when inline; never on the closing bracket's line, never
a trailing space; a removed argument's line break kept when the next argument
had its own line; a comment at the end of a kept argument's line kept.

The text after an argument is its comma (``Arg.comma``) and the whitespace after
it (``Arg.whitespace_after_arg``): between two arguments that pair is the
separator, after the last one it is what comes before the closing bracket
(a trailing comma or none, a line break or none). The helpers move these
pairs whole, so a line break never lands after a kept space.
"""

from __future__ import annotations

from typing import Callable, Sequence

import libcst as cst

_INLINE = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
_NOTHING = cst.SimpleWhitespace("")


def append_arguments(call: cst.Call, new: Sequence[cst.Arg]) -> cst.Call:
    """``call`` with the arguments ``new`` after its own, laid out as its own are.

    The separator before the new arguments is the one before the call's last
    argument (for a single argument: a line break at its indentation when it
    starts on its own line, else ``", "``), without its comment; the text
    before the closing bracket (trailing comma, line break) stays last.
    """
    if not new:
        return call
    args = list(call.args)
    if not args:  # f( ) and f(\n) become f(workers=4)
        return call.with_changes(args=_joined(new, _INLINE, cst.MaybeSentinel.DEFAULT, _NOTHING),
                                 whitespace_before_args=_NOTHING)
    last = args[-1]
    separator = new_item_separator(_separator(args[-2]) if len(args) > 1 else None,
                                   call.whitespace_before_args)
    ending = last.comma
    if isinstance(ending, cst.Comma) and _has_comment(ending.whitespace_after) \
            and _breaks_line(separator.whitespace_after):
        # the comment stays on the last argument's line, the new ones go below it
        args[-1] = last.with_changes(comma=_moved_line_break(ending, separator.whitespace_after))
        ending = ending.with_changes(whitespace_after=_without_comment(ending.whitespace_after))
    else:
        args[-1] = last.with_changes(comma=separator, whitespace_after_arg=_NOTHING)
    return call.with_changes(
        args=[*args, *_joined(new, separator, ending, last.whitespace_after_arg)])


def remove_arguments(call: cst.Call, drop: Callable[[cst.Arg], bool]) -> cst.Call:
    """``call`` without the arguments ``drop`` picks, the others in their layout.

    A kept argument followed by dropped ones keeps its own separator when that
    ends its line, else takes the first line break among theirs, with the
    comment of that line (the next kept argument stays on its own line, and a
    line's comment stays while anything of the line does). When the last
    argument goes, the new last one ends as it did (no ``f(a, )`` left), or
    keeps its line's comment with the closing bracket on the next line.
    """
    args = list(call.args)
    kept: list[cst.Arg] = []
    pending: list[cst.Arg] = []  # dropped since the last kept argument
    for arg in args:
        if drop(arg):
            pending.append(arg)
            continue
        if kept and pending:
            kept[-1] = _before_next(kept[-1], pending)
        kept.append(arg)
        pending = []
    if not kept:
        return call.with_changes(args=[], whitespace_before_args=_NOTHING)
    if pending:
        kept[-1] = _closing(kept[-1], pending[-1])
    return call.with_changes(args=kept)


def new_item_separator(before_last: cst.Comma | None,
                       opening: cst.BaseParenthesizableWhitespace) -> cst.Comma:
    """The comma to put before an item appended to a bracketed list (arguments,
    parameters): the separator before the list's last item (``before_last``),
    with its line break and indentation but not its comment; for a list of one
    item (``None``), a line break to the item's indentation when the item starts
    on its own line (``opening`` is the whitespace after the opening bracket),
    else ``", "``."""
    if before_last is None:
        if _breaks_line(opening):
            return cst.Comma(whitespace_after=_without_comment(opening))
        return _INLINE
    if _breaks_line(before_last.whitespace_after):
        return before_last.with_changes(
            whitespace_after=_without_comment(before_last.whitespace_after))
    return before_last


def keyword_in(names: frozenset[str]) -> Callable[[cst.Arg], bool]:
    """For :func:`remove_arguments`: picks the keyword arguments named in ``names``."""
    return lambda arg: arg.keyword is not None and arg.keyword.value in names


def _joined(new: Sequence[cst.Arg], separator: cst.Comma, comma: cst.Comma | cst.MaybeSentinel,
            closing: cst.BaseParenthesizableWhitespace) -> list[cst.Arg]:
    """``new`` with ``separator`` between them, the last ending with ``comma`` and ``closing``."""
    joined = [arg.with_changes(comma=separator, whitespace_after_arg=_NOTHING) for arg in new]
    joined[-1] = joined[-1].with_changes(comma=comma, whitespace_after_arg=closing)
    return joined


def _separator(arg: cst.Arg) -> cst.Comma:
    """The separator after ``arg`` (not the last argument) as one comma, whatever
    side of the comma its line break was written on."""
    comma = arg.comma if isinstance(arg.comma, cst.Comma) else _INLINE
    if _breaks_line(arg.whitespace_after_arg):
        return comma.with_changes(whitespace_after=arg.whitespace_after_arg)
    return comma


def _before_next(kept: cst.Arg, dropped: Sequence[cst.Arg]) -> cst.Arg:
    """``kept``, followed by the ``dropped`` arguments and then a kept one: the
    first line break after ``kept`` stays, with the comment of ``kept``'s line."""
    if _ends_line(kept):
        return kept
    for arg in dropped:
        if _ends_line(arg):
            return kept.with_changes(comma=_separator(arg), whitespace_after_arg=_NOTHING)
    return kept


def _closing(kept: cst.Arg, last: cst.Arg) -> cst.Arg:
    """``kept``, the new last argument, in place of the dropped ``last``."""
    comma = kept.comma
    if isinstance(comma, cst.Comma) and _carries_comment(comma.whitespace_before):
        # a comma first on the next line: its comment and line break stay
        return kept.with_changes(comma=cst.MaybeSentinel.DEFAULT,
                                 whitespace_after_arg=comma.whitespace_before)
    if _carries_comment(kept.whitespace_after_arg):
        return kept.with_changes(comma=cst.MaybeSentinel.DEFAULT)
    if not (isinstance(comma, cst.Comma) and _carries_comment(comma.whitespace_after)):
        return kept.with_changes(comma=last.comma, whitespace_after_arg=last.whitespace_after_arg)
    # keep the comment of kept's line: its comma stays, the bracket goes on the next line
    bracket = last.whitespace_after_arg
    if isinstance(last.comma, cst.Comma) and _breaks_line(last.comma.whitespace_after):
        bracket = last.comma.whitespace_after
    if not _breaks_line(bracket):
        return kept
    return kept.with_changes(comma=_moved_line_break(comma, bracket),
                             whitespace_after_arg=_NOTHING)


def _moved_line_break(comma: cst.Comma,
                      line_break: cst.BaseParenthesizableWhitespace) -> cst.Comma:
    """``comma`` (with a comment after it) ending its line as ``line_break`` does:
    the comment stays, the next line gets ``line_break``'s indentation."""
    comment = comma.whitespace_after
    assert isinstance(comment, cst.ParenthesizedWhitespace)
    assert isinstance(line_break, cst.ParenthesizedWhitespace)
    return comma.with_changes(whitespace_after=comment.with_changes(
        indent=line_break.indent, last_line=line_break.last_line))


def _ends_line(arg: cst.Arg) -> bool:
    """Whether a line break follows ``arg`` (after its comma)."""
    comma = arg.comma
    return _breaks_line(arg.whitespace_after_arg) or (
        isinstance(comma, cst.Comma) and _breaks_line(comma.whitespace_after))


def _has_comment(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    """Whether ``whitespace`` ends its line with a comment."""
    return isinstance(whitespace, cst.ParenthesizedWhitespace) \
        and whitespace.first_line.comment is not None


def _carries_comment(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    """Whether ``whitespace`` holds a comment: at the end of its line or on lines of its own."""
    return _has_comment(whitespace) or isinstance(whitespace, cst.ParenthesizedWhitespace) and any(
        line.comment is not None for line in whitespace.empty_lines)


def _breaks_line(whitespace: cst.BaseParenthesizableWhitespace) -> bool:
    return isinstance(whitespace, cst.ParenthesizedWhitespace)


def _without_comment(
    whitespace: cst.BaseParenthesizableWhitespace,
) -> cst.BaseParenthesizableWhitespace:
    """A line break to the same indentation as ``whitespace``, without its comment
    and the empty or comment lines before the indentation."""
    if not isinstance(whitespace, cst.ParenthesizedWhitespace):
        return whitespace
    return whitespace.with_changes(first_line=cst.TrailingWhitespace(), empty_lines=[])
