"""One reported number with its target and a pass/miss mark: the row type of `make bench` and `make gpu-check`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Figure:
    """`value` compared to `target` with `op` (">=" or "<="); `value` None: not measured in this run."""

    name: str
    value: float | None
    target: float | None = None
    op: str = ">="
    unit: str = "x"
    note: str = ""

    @property
    def mark(self) -> str:
        if self.value is None:
            return "n/a"
        if self.target is None:
            return "info"
        ok = self.value >= self.target if self.op == ">=" else self.value <= self.target
        return "pass" if ok else "MISS"

    def formatted(self, value: float | None = None) -> str:
        """`value` (default: this figure's) in its unit; "-" when there is none."""
        value = self.value if value is None else value
        if value is None:
            return "-"
        if self.unit == "%":
            return f"{100 * value:.1f} %"
        if self.unit == "x":
            return f"{value:.3f}x"
        return f"{value:,.4g}{(' ' + self.unit) if self.unit else ''}"

    def goal(self) -> str:
        """The target as text ("<= 1.100x"), empty without one."""
        return "" if self.target is None else f"{self.op} {self.formatted(self.target)}"
