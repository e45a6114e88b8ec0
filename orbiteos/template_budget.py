"""A template render's budget: wall-clock time and the size of what it builds, checked inside the sandbox.

Jinja's sandbox bounds each `range()` but not a render: two nested loops, `'{:>1000000000}'.format(x)`,
`'x' * 10**9` or a list doubled in a loop would block the event loop or fill the memory. The
budget is checked where a render can spend: each loop step (every `_TICK` items), each call the
sandbox vets, each operator that can grow a value (`+ * ** % ~`), each list, tuple and dict
literal, the padding and precision of `format`/`%`, the string methods and filters that pad or
repeat, and every piece of output. A render past either bound raises `TemplateError` naming the
template. The weight of a value is the size of its printed form, counted without printing it.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import jinja2
import jinja2.filters
import regex
from jinja2 import nodes
from jinja2.visitor import NodeTransformer

from orbiteos.errors import TemplateError
from orbiteos.limits import Limits

_TICK = 64  # loop items between two looks at the clock
_MAX_INT_BITS = 100_000  # an integer an operator builds (about 30,000 digits)
_SPEC_NUMBER = re.compile(r"\d+")
# printf-style conversions: %[(key)][flags][width][.precision][length]type
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")
_PADDING_METHODS = frozenset(("ljust", "rjust", "center", "zfill", "expandtabs", "replace", "join"))


class BudgetExceeded(TemplateError):
    """A render went past its time or size budget."""


def _clip(source: str) -> str:
    return repr(source if len(source) <= 120 else source[:117] + "...")


class RenderBudget:
    """One environment's budget, shared by a render and the renders nested in it."""

    __slots__ = ("seconds", "max_output", "deadline", "depth", "output", "source", "_ticks", "memo")

    def __init__(self, limits: Limits) -> None:
        self.seconds = limits.template_render_seconds
        self.max_output = limits.template_max_output
        self.deadline = 0.0
        self.depth = 0
        self.output = 0
        self.source = ""
        self._ticks = 0
        # Weights of the containers this render built, by id (with the object, so the id stays its own).
        self.memo: dict[int, tuple[Any, int]] = {}

    # An outermost render sets `deadline` to 0.0, `output` to 0 and `source`, and counts `depth` up
    # (down when it ends, clearing `memo` at 0): inlined in Template, as it happens on every render.

    # --- checks ---------------------------------------------------------------------------------

    def exceeded(self, what: str) -> BudgetExceeded:
        return BudgetExceeded(f"template {_clip(self.source)} exceeded its {what}")

    def tick(self) -> None:
        """Fail when the render is past its deadline (which the render's first tick sets: a render
        that never loops 64 times nor makes 64 sandboxed calls cannot run long)."""
        if not self.depth:
            return
        now = time.perf_counter()
        if not self.deadline:
            self.deadline = now + self.seconds
        elif now > self.deadline:
            raise self.exceeded(f"render time budget of {self.seconds:g} s (limits.template_render_seconds)")

    def too_big(self, size: int, what: str = "a value of") -> BudgetExceeded:
        return self.exceeded(
            f"output size budget: {what} {size:,} characters, "
            f"more than {self.max_output:,} (limits.template_max_output)"
        )

    def bounded(self, value: Any) -> Any:
        """`value` when its weight is within the budget."""
        if type(value) is str:
            if len(value) > self.max_output:
                raise self.too_big(len(value))
            return value
        self.weight(value)
        return value

    def weight(self, value: Any) -> int:
        """The printed size of `value`, counted; raises as soon as it passes the budget."""
        kind = type(value)
        if kind is str or kind is bytes:
            size = len(value)
        elif kind is int:
            size = value.bit_length() // 3 + 1
        elif kind is range:
            size = 8 * len(value)
        elif kind in (list, tuple, dict, set, frozenset):
            memo = self.memo.get(id(value))
            if memo is not None and memo[0] is value:
                return memo[1]
            size = 2
            try:
                items = value.items() if kind is dict else value
                for item in items:
                    size += 2 + self.weight(item)
                    if size > self.max_output:
                        break
            except RecursionError:
                size = self.max_output + 1
            if self.depth and size <= self.max_output and len(self.memo) < 100_000:
                self.memo[id(value)] = (value, size)
        else:
            return 8
        if size > self.max_output:
            raise self.too_big(size)
        return size

    # --- hooks the environment calls ------------------------------------------------------------------

    def loop(self, iterable: Iterable[Any]) -> Iterator[Any]:
        """A `{% for %}` loop's items, with a look at the clock every `_TICK` items."""
        count = 0
        for item in iterable:
            count += 1
            if count == _TICK:
                count = 0
                self.tick()
            yield item

    def call_checked(self, result: Any) -> Any:
        """After a call the sandbox vetted (a macro, `dict()`, `namespace()`): time and size."""
        self._ticks += 1
        if self._ticks >= _TICK:
            self._ticks = 0
            self.tick()
        kind = type(result)
        if kind is dict or kind is str or kind is list:
            self.bounded(result)
        return result

    def finalize(self, value: Any) -> Any:
        """Every output expression: its weight counts towards the render's output."""
        kind = type(value)
        size = len(value) if kind is str else (8 if kind in (int, float, bool) or value is None else self.weight(value))
        self.output += size
        if self.output > self.max_output:
            raise self.too_big(self.output, "output of")
        return value

    def concat(self, pieces: Iterable[str]) -> str:
        """`''.join`, refusing output past the budget before it is built."""
        parts = list(pieces)
        total = sum(map(len, parts))
        if total > self.max_output:
            raise self.too_big(total, "output of")
        return "".join(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`+ * ** %` (the sandbox's hook) with their results' size bounded before they are built."""
        if operator == "*":
            if type(left) is float or type(right) is float:
                return left * right
            return self._repeat(left, right)
        if operator == "**":
            if type(left) is int and type(right) is int and right > 0 and left.bit_length() * right > _MAX_INT_BITS:
                raise self.exceeded(f"integer size budget: {left} ** {right} has more than {_MAX_INT_BITS:,} bits")
            return left**right
        if operator == "%":
            if isinstance(left, str):
                self.check_percent(left, right)
                return self.bounded(left % right)
            return left % right
        result = left + right
        kind = type(result)
        if kind is str or kind is list or kind is tuple:
            self.bounded(result)
        return result

    def _repeat(self, left: Any, right: Any) -> Any:
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, str | list | tuple) and isinstance(count, int) and not isinstance(count, bool):
                if count > 0 and self.weight(sequence) * count > self.max_output:
                    raise self.too_big(self.weight(sequence) * count)
                return left * right
        if type(left) is int and type(right) is int and left.bit_length() + right.bit_length() > _MAX_INT_BITS:
            raise self.exceeded(f"integer size budget: a product of more than {_MAX_INT_BITS:,} bits")
        return left * right

    def check_width(self, width: Any) -> None:
        if isinstance(width, int) and width > self.max_output:
            raise self.too_big(width, "a padding or precision of")

    def check_percent(self, fmt: str, args: Any) -> None:
        """`fmt % args` (and the `format` filter): no width or precision past the budget."""
        values = args if isinstance(args, tuple) else (args,)
        for spec in _PERCENT_SPEC.finditer(fmt):
            for number in spec.groups():
                if number == "*":
                    for value in values:
                        self.check_width(value)
                elif number is not None:
                    self.check_width(int(number))
        for value in values:
            self.weight(value)

    def check_format(self, fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """`str.format`: no width or precision past the budget, nested ones (`{:>{}}`) included."""
        try:
            fields = list(string.Formatter().parse(fmt))
        except ValueError:
            return  # str.format reports it
        for _, _, spec, _ in fields:
            if not spec:
                continue
            for number in _SPEC_NUMBER.findall(spec):
                self.check_width(int(number))
            if "{" in spec:
                for value in (*args, *kwargs.values()):
                    self.check_width(value)
        for value in (*args, *kwargs.values()):
            self.weight(value)

    def check_method(self, method: Any, args: tuple[Any, ...]) -> None:
        """A string method that pads, repeats or joins: its result's size bounded before it is built."""
        name = method.__name__
        owner = getattr(method, "__self__", None)
        if not isinstance(owner, str):
            return
        if name in ("ljust", "rjust", "center", "zfill"):
            if args:
                self.check_width(args[0])
        elif name == "expandtabs":
            size = args[0] if args else 8
            if isinstance(size, int) and size > 0 and owner.count("\t") * size > self.max_output:
                raise self.too_big(owner.count("\t") * size)
        elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
            grows = len(args[1]) - len(args[0])
            if grows > 0 and len(owner) + (len(owner) + 1) * grows > self.max_output:
                size = len(owner) + owner.count(args[0]) * grows if args[0] else len(owner) + (len(owner) + 1) * grows
                if size > self.max_output:
                    raise self.too_big(size)
        elif name == "join" and args:
            items = list(args[0]) if not isinstance(args[0], list | tuple) else args[0]
            size = len(owner) * len(items) + sum(len(item) if isinstance(item, str) else 8 for item in items)
            if size > self.max_output:
                raise self.too_big(size)

    def _regex(self, run: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A regular expression run with what is left of the render's time (the `regex` module stops
        a match at its timeout; `re` cannot be stopped: `(a+)+$` on 30 characters runs for minutes)."""
        now = time.perf_counter()
        if not self.depth:
            left = self.seconds
        else:
            if not self.deadline:
                self.deadline = now + self.seconds
            left = max(0.0, self.deadline - now)
        try:
            return run(*args, timeout=left, **kwargs)
        except TimeoutError:
            raise self.exceeded(
                f"render time budget of {self.seconds:g} s (limits.template_render_seconds) in a regular expression"
            ) from None

    def regex_helpers(self) -> tuple[dict[str, Callable[..., Any]], dict[str, Callable[..., Any]]]:
        """(filters, tests): Home Assistant's regex helpers, each run within the render's time."""
        run = self._regex

        def flags(ignorecase: bool) -> int:
            return int(regex.IGNORECASE) if ignorecase else 0

        def regex_match(value: Any, find: str = "", ignorecase: bool = False) -> bool:
            return bool(run(regex.match, find, str(value), flags(ignorecase)))

        def regex_search(value: Any, find: str = "", ignorecase: bool = False) -> bool:
            return bool(run(regex.search, find, str(value), flags(ignorecase)))

        def regex_replace(value: Any, find: str = "", replace: str = "", ignorecase: bool = False) -> str:
            return str(self.bounded(run(regex.sub, find, replace, str(value), flags=flags(ignorecase))))

        def regex_findall(value: Any, find: str = "", ignorecase: bool = False) -> list[Any]:
            return list(run(regex.findall, find, str(value), flags(ignorecase)))

        def regex_findall_index(value: Any, find: str = "", index: int = 0, ignorecase: bool = False) -> Any:
            return regex_findall(value, find, ignorecase)[index]

        filters: dict[str, Callable[..., Any]] = {
            "regex_match": regex_match,
            "regex_search": regex_search,
            "regex_replace": regex_replace,
            "regex_findall": regex_findall,
            "regex_findall_index": regex_findall_index,
        }
        tests: dict[str, Callable[..., Any]] = {
            "match": regex_match,
            "search": regex_search,
            "regex_match": regex_match,
            "regex_search": regex_search,
        }
        return filters, tests

    def filters(self) -> dict[str, Callable[..., Any]]:
        """The loop, literal and concat hooks, and the filters that pad or repeat, bounded."""
        budget = self

        def center(value: Any, width: int = 80) -> str:
            budget.check_width(width)
            return jinja2.filters.do_center(budget.bounded(str(value)), width)

        def indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
            text = budget.bounded(str(value))
            pad = len(width) if isinstance(width, str) else width
            if isinstance(pad, int) and (text.count("\n") + 1) * pad + len(text) > budget.max_output:
                raise budget.too_big((text.count("\n") + 1) * pad + len(text))
            return jinja2.filters.do_indent(text, width, first, blank)

        def format_filter(value: Any, *args: Any, **kwargs: Any) -> str:
            if args and kwargs:
                raise ValueError("can't handle positional and keyword arguments at the same time")
            fmt = str(value)
            budget.check_percent(fmt, kwargs or args)
            return budget.bounded(fmt % (kwargs or args))

        @jinja2.pass_eval_context
        def replace(eval_ctx: Any, value: Any, old: Any, new: Any, count: int | None = None) -> str:
            text = str(value)
            budget.check_method(text.replace, (str(old), str(new)))
            return jinja2.filters.do_replace(eval_ctx, text, old, new, count)

        @jinja2.pass_eval_context
        def join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> str:
            items = list(value)
            if attribute is None:
                budget.weight(items)
                budget.check_method(str(d).join, (items,))
            return budget.bounded(jinja2.filters.sync_do_join(eval_ctx, items, d, attribute))

        @jinja2.pass_eval_context
        def tojson(eval_ctx: Any, value: Any, indent: int | None = None) -> Any:
            budget.weight(value)
            budget.check_width(indent)
            return jinja2.filters.do_tojson(eval_ctx, value, indent)

        def string_filter(value: Any) -> str:
            budget.weight(value)
            return jinja2.filters.soft_str(value)

        return {
            "_budget_loop": self.loop,
            "_budget_value": self.bounded,
            "center": center,
            "indent": indent,
            "format": format_filter,
            "replace": replace,
            "join": join,
            "tojson": tojson,
            "string": string_filter,
        }


class _BudgetTransformer(NodeTransformer):
    """Routes a template's loops, literals and `~` through the budget's hooks."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 (Jinja's visitor naming)
        self.generic_visit(node)
        node.iter = _hook(node.iter, "_budget_loop")
        return node

    def _value(self, node: nodes.Node) -> nodes.Node:
        self.generic_visit(node)
        if getattr(node, "ctx", "load") != "load":
            return node  # a tuple being assigned to
        if isinstance(node, nodes.List | nodes.Tuple) and all(_scalar(item) for item in node.items):
            return node  # `[x | float - 20, 0]`: as big as its source says, nothing to amplify
        return _hook(node, "_budget_value")

    visit_List = visit_Tuple = visit_Dict = visit_Concat = _value  # noqa: N815


# Filters whose result is a number or a boolean whatever they are given.
_SCALAR_FILTERS = frozenset(
    ("float", "int", "round", "bool", "abs", "length", "count", "is_number", "multiply", "log", "sqrt", "as_timestamp")
)


def _scalar(node: nodes.Node) -> bool:
    """Whether an expression can only be a constant, a number or a boolean (not a container)."""
    if isinstance(node, nodes.Const | nodes.Compare | nodes.Not | nodes.Test):
        return True
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _scalar(node.node)
    if isinstance(node, nodes.Sub | nodes.Div | nodes.FloorDiv):
        return _scalar(node.left) and _scalar(node.right)
    return isinstance(node, nodes.Filter) and node.name in _SCALAR_FILTERS


def _hook(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


def budget_tree(tree: nodes.Template) -> nodes.Template:
    """`tree` with its loops, literals and concatenations checked by the render's budget."""
    _BudgetTransformer().visit(tree)
    return tree
