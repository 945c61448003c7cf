"""Continuation lines moved with their bracket when a fix changes what comes before it.

pycodestyle wants the lines inside a bracket that has code after it on its
own line ("visual indent") to start under that code (E127/E128), and the
lines of a bracket that ends its line ("hanging indent") to be indented from
the start of the bracket's line. A fix that renames ``fit_generator(`` to
``fit(`` moves the bracket's first argument 10 columns left, and LibCST
leaves the lines under it where they were: 10 columns too far right.

:func:`realign` compares the tokens of a text before and after its fixes.
For each logical line the fixes changed, it moves every continuation line
by as much as its bracket's anchor moved: the first token after a visual
bracket, the start of a hanging bracket's line. A line keeps its old offset
from that anchor, so a line that was aligned stays aligned and one that was
not stays as it was (its warning, if any, is the file's own). Lines the fixes
wrote themselves move with the lines they were modelled on. Nothing inside a
string changes, and lines indented with tabs are left alone.

This is hand-written: LibCST keeps whitespace as parsed and has no layout
pass, and pycodestyle reports misaligned lines but does not move them.
"""

from __future__ import annotations

import tokenize
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Callable

from safeloader.source_text import split_lines

_SKIPPED = frozenset({tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENCODING,
                      tokenize.ENDMARKER})
_OPENING = frozenset("([{")
_CLOSING = frozenset(")]}")
#: the token types that open and close an f-string (or t-string) on Python 3.12+
_STRING_STARTS = frozenset(getattr(tokenize, name) for name in ("FSTRING_START", "TSTRING_START")
                           if hasattr(tokenize, name))
_STRING_ENDS = frozenset(getattr(tokenize, name) for name in ("FSTRING_END", "TSTRING_END")
                         if hasattr(tokenize, name))
#: the hanging indents pycodestyle accepts (4; 8 to set arguments off from a body)
_HANGS = (4, 8)


@dataclass
class _Tokens:
    """The significant tokens of one text (comments included), in order, with
    for each the index of its innermost open bracket (``-1``: none; a closing
    bracket's is the one it closes) and whether it is the first thing on its line."""

    tokens: list[tokenize.TokenInfo] = field(default_factory=list)
    bracket: list[int] = field(default_factory=list)
    starts_line: list[bool] = field(default_factory=list)
    #: the index of the closing bracket of each opening one
    closer: dict[int, int] = field(default_factory=dict)
    #: each logical line as a ``[start, end)`` range of token indices
    logical: list[tuple[int, int]] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> _Tokens:
        """Tokenize ``text``; raises ``tokenize.TokenError``/``SyntaxError`` on bad input."""
        found = cls()
        stack: list[int] = []
        last_row = 0  # the row on which the previous token ended
        start = 0
        inside_string = 0  # Python 3.12 tokenizes f-strings: their parts are one token here
        for token in tokenize.generate_tokens(iter(split_lines(text)).__next__):
            if inside_string:
                inside_string += (token.type in _STRING_STARTS) - (token.type in _STRING_ENDS)
                last_row = token.end[0]
                continue
            inside_string = token.type in _STRING_STARTS
            if token.type in _SKIPPED:
                if token.type == tokenize.NL:
                    last_row = token.end[0]
                continue
            index = len(found.tokens)
            found.tokens.append(token)
            found.bracket.append(stack[-1] if stack else -1)
            found.starts_line.append(token.start[0] > last_row)
            last_row = token.end[0]
            if token.type == tokenize.OP and token.string in _OPENING:
                stack.append(index)
            elif token.type == tokenize.OP and token.string in _CLOSING and stack:
                found.closer[stack.pop()] = index
            if token.type == tokenize.NEWLINE:
                found.logical.append((start, index + 1))
                start = index + 1
                stack.clear()
        if start < len(found.tokens):
            found.logical.append((start, len(found.tokens)))
        return found

    def is_bracket(self, index: int) -> bool:
        token = self.tokens[index]
        return token.type == tokenize.OP and token.string in _OPENING | _CLOSING

    def closes(self, index: int) -> bool:
        token = self.tokens[index]
        return token.type == tokenize.OP and token.string in _CLOSING

    def key(self, index: int) -> tuple[int, str]:
        token = self.tokens[index]
        return token.type, token.string

    def line_start(self, index: int) -> int:
        """The index of the first token on the line of token ``index``."""
        while not self.starts_line[index]:
            index -= 1
        return index

    def anchor(self, bracket: int, end: int) -> int | None:
        """The token after ``bracket`` when it is on the same line (a visual
        indent), else ``None`` (a hanging indent); ``end`` bounds the search."""
        after = bracket + 1
        if after < end and not self.starts_line[after] \
                and self.tokens[after].type != tokenize.COMMENT:
            return after
        return None


@dataclass
class _Context:
    """An open bracket of the new text: how its lines move."""

    #: columns from the old layout to the new one (``None``: not known)
    delta: int | None
    #: the old bracket whose lines these were (``None``: not known)
    old_bracket: int | None
    #: what the last line in this bracket was moved by
    last_move: int
    #: where a closing bracket the fixes put on a line of its own goes: under
    #: the first token after a visual bracket, else at its line's indentation
    closing_column: int


def realign(old: str, new: str) -> str:
    """``new`` (``old`` after fixes) with its continuation lines moved with their brackets.

    Text that does not tokenize, or ends lines with a lone carriage return
    (which the tokenizer does not count as a line end), is returned as it is.
    """
    if old == new or "\r" in new.replace("\r\n", ""):
        return new
    try:
        before, after = _Tokens.of(old), _Tokens.of(new)
    except (tokenize.TokenError, SyntaxError):
        return new
    moves: dict[int, tuple[int, int]] = {}
    lines = SequenceMatcher(
        None, [_line_key(before, span) for span in before.logical],
        [_line_key(after, span) for span in after.logical], autojunk=False)
    for tag, old_first, old_last, new_first, new_last in lines.get_opcodes():
        if tag != "replace":
            continue
        old_span = (before.logical[old_first][0], before.logical[old_last - 1][1])
        new_span = (after.logical[new_first][0], after.logical[new_last - 1][1])
        matched = _matched_tokens(before, after, old_span, new_span)
        for first, last in after.logical[new_first:new_last]:
            _plan_moves(before, after, matched, first, last, moves)
    return _moved(new, moves)


def _line_key(tokens: _Tokens, span: tuple[int, int]) -> tuple[tuple[int, str], ...]:
    return tuple(tokens.key(index) for index in range(*span))


def _matched_tokens(before: _Tokens, after: _Tokens, old_span: tuple[int, int],
                    new_span: tuple[int, int]) -> dict[int, int]:
    """New token index to old token index, for the tokens the fixes left in place.

    Brackets are left out of the token match (runs of them, as when a fix wraps
    ``(x ...)`` in ``f(...)``, mislead it) and paired afterwards by what they
    hold: a new bracket and an old one whose first and last matched tokens
    inside are the same, innermost with innermost (the wrapper of a wrapped
    expression has no old bracket); then, for a bracket that gained or lost
    arguments at one end, the same first or the same last token."""
    old_plain = [index for index in range(*old_span) if not before.is_bracket(index)]
    new_plain = [index for index in range(*new_span) if not after.is_bracket(index)]
    tokens = SequenceMatcher(None, [before.key(index) for index in old_plain],
                             [after.key(index) for index in new_plain], autojunk=False)
    matched = {}
    for block in tokens.get_matching_blocks():
        for offset in range(block.size):
            matched[new_plain[block.b + offset]] = old_plain[block.a + offset]
    old_ends = _ends_inside(before, old_span, set(matched.values()), lambda index: index)
    new_ends = _ends_inside(after, new_span, set(matched), matched.__getitem__)
    claimed: set[int] = set()
    # both ends the same; then the first (a moved last argument), then the last
    for content in (lambda ends: ends, lambda ends: ends[0], lambda ends: ends[1]):
        olds: dict[object, list[int]] = {}
        for old, ends in old_ends.items():
            if old not in claimed:
                olds.setdefault(content(ends), []).append(old)
        for new, ends in new_ends.items():
            candidates = olds.get(content(ends), [])
            if new in matched or not candidates:
                continue
            old = candidates.pop(0)
            # any opening bracket pairs with any: a fix may turn ``[...]`` into ``(...)``
            matched[new] = old
            matched[after.closer[new]] = before.closer[old]
            claimed.add(old)
    return matched


def _ends_inside(tokens: _Tokens, span: tuple[int, int], kept: set[int],
                 old_index: Callable[[int], int]) -> dict[int, tuple[int, int]]:
    """The closed opening brackets in ``span``, innermost first, with the old
    indices (``old_index``) of the first and last ``kept`` tokens inside them."""
    found: dict[int, tuple[int, int]] = {}
    openings = [index for index in range(*span) if index in tokens.closer]
    for opening in sorted(openings, key=lambda index: tokens.closer[index] - index):
        closing = tokens.closer[opening]
        first = next((index for index in range(opening + 1, closing) if index in kept), None)
        if first is not None:
            last = next(index for index in range(closing - 1, opening, -1) if index in kept)
            found[opening] = (old_index(first), old_index(last))
    return found


def _plan_moves(before: _Tokens, after: _Tokens, matched: dict[int, int], first: int,
                last: int, moves: dict[int, tuple[int, int]]) -> None:
    """Record in ``moves`` (row: its column, how far it moves) how each
    continuation line of the new logical line ``[first, last)`` moves."""
    contexts: dict[int, _Context] = {}
    row_move = 0
    for index in range(first, last):
        token = after.tokens[index]
        bracket = after.bracket[index]
        if after.starts_line[index]:
            row_move = 0 if index == first or bracket < 0 else _line_move(
                before, after, matched, index, contexts[bracket])
            if row_move:
                moves[token.start[0]] = (token.start[1], row_move)
            if bracket >= 0:
                contexts[bracket].last_move = row_move
        if token.type == tokenize.OP and token.string in _OPENING:
            contexts[index] = _open(before, after, matched, matched.get(index), index, last,
                                    row_move)


def _open(before: _Tokens, after: _Tokens, matched: dict[int, int], old_bracket: int | None,
          bracket: int, last: int, row_move: int) -> _Context:
    """The context of the new text's ``bracket`` (``old_bracket`` in the old
    text, if the fixes kept it), on a line moved by ``row_move``."""
    anchor = after.anchor(bracket, last)
    new_indent = after.tokens[after.line_start(bracket)].start[1] + row_move
    if anchor is not None:
        new_column = after.tokens[anchor].start[1] + row_move
        if anchor in matched:
            old_anchor = matched[anchor]
            context = old_bracket if old_bracket is not None else before.bracket[old_anchor]
            return _Context(new_column - before.tokens[old_anchor].start[1], context, row_move,
                            new_column)
        if old_bracket is not None:
            old_anchor = before.anchor(old_bracket, len(before.tokens))
            if old_anchor is not None:
                return _Context(new_column - before.tokens[old_anchor].start[1],
                                old_bracket, row_move, new_column)
        return _Context(None, None, row_move, new_column)
    if old_bracket is None or before.anchor(old_bracket, len(before.tokens)) is not None:
        return _Context(None, None, row_move, new_indent)
    # a hanging indent counts from its line's start when it is one pycodestyle
    # accepts, else (say, lined up with the call's name) it moves with the bracket
    old_indent = before.tokens[before.line_start(old_bracket)].start[1]
    if _hang(before, old_bracket) in _HANGS:
        return _Context(new_indent - old_indent, old_bracket, row_move, new_indent)
    new_column = after.tokens[bracket].start[1] + row_move
    return _Context(new_column - before.tokens[old_bracket].start[1], old_bracket, row_move,
                    new_indent)


def _hang(tokens: _Tokens, bracket: int) -> int | None:
    """How far the first line inside the hanging ``bracket`` is indented from the
    start of the bracket's line (``None``: no such line)."""
    end = tokens.closer.get(bracket, len(tokens.tokens))
    for index in range(bracket + 1, end):
        if tokens.starts_line[index] and tokens.bracket[index] == bracket:
            return tokens.tokens[index].start[1] - tokens.tokens[
                tokens.line_start(bracket)].start[1]
    return None


def _line_move(before: _Tokens, after: _Tokens, matched: dict[int, int], start: int,
               context: _Context) -> int:
    """How far the continuation line starting with token ``start`` moves: to its
    old column plus its bracket's ``delta`` when the line was a continuation
    line of the matching old bracket (its closing bracket: when that started a
    line; one the fixes put there goes to the bracket's ``closing_column``),
    else as the line before it in the bracket."""
    closing = after.closes(start)
    old_start = None if context.old_bracket is None else before.closer.get(context.old_bracket)
    if closing and (old_start is None or not before.starts_line[old_start]):
        return context.closing_column - after.tokens[start].start[1]
    if context.delta is None or context.old_bracket is None:
        return context.last_move
    row = after.tokens[start].start[0]
    if not closing:
        kept = next((index for index in range(start, len(after.tokens))
                     if after.tokens[index].start[0] != row or index in matched), None)
        if kept is None or after.tokens[kept].start[0] != row:
            return context.last_move
        old_start = before.line_start(matched[kept])
        if not (before.bracket[matched[kept]] == before.bracket[old_start] == context.old_bracket
                and _continues(before, old_start) and not before.closes(old_start)):
            return context.last_move
    wanted = before.tokens[old_start].start[1] + context.delta
    return wanted - after.tokens[start].start[1]


def _continues(tokens: _Tokens, index: int) -> bool:
    """Whether the line starting with token ``index`` continues a logical line."""
    return index > 0 and tokens.tokens[index - 1].type != tokenize.NEWLINE


def _moved(text: str, moves: dict[int, tuple[int, int]]) -> str:
    """``text`` with the rows of ``moves`` (1-based) re-indented: the row's first
    token, at the column given, moves by the number of columns given."""
    if not moves:
        return text
    lines = split_lines(text)
    for row, (column, move) in moves.items():
        line = lines[row - 1]
        if column + move < 0 or line[:column].strip(" ") or line[column:column + 1].isspace():
            continue  # indented with tabs or form feeds: left as it is
        lines[row - 1] = " " * (column + move) + line[column:]
    return "".join(lines)
