"""Steady answers: a region's state changes only after ``agree`` answers in a row say the same new thing.

One noisy frame (a shadow, a moth, a car's headlights) must not flip what Home Assistant, the LEDs
and the results log show. "Nothing in view" is a state like any label (``None``); an uncertain
answer (scoring below the region's min_score) agrees with nothing, so it breaks a run.
"""

from __future__ import annotations

from typing import Optional

State = Optional[str]  # a label, or None: nothing in view


class Steady:
    """The steady state of one region, fed each raw answer in turn."""

    def __init__(self, agree: int) -> None:
        if agree < 1:
            raise ValueError("agree is at least 1")
        self.agree = agree
        self.known = False  # no state yet: the first one also needs ``agree`` answers
        self.state: State = None
        self._candidate: State = None
        self._run = 0  # answers in a row for ``_candidate``; 0 while every answer agrees with ``state``

    @property
    def settled(self) -> bool:
        """No change is under way: the latest answers agreed with the state (or were uncertain)."""
        return self.known and self._run == 0

    def answer(self, state: State) -> bool:
        """Count one confident answer; True when it made the state change (to ``state``)."""
        if self.known and state == self.state:
            self._run = 0
            return False
        if self._run and state == self._candidate:
            self._run += 1
        else:
            self._candidate, self._run = state, 1
        if self._run < self.agree:
            return False
        self.state, self.known, self._run = state, True, 0
        return True

    def uncertain(self) -> None:
        """An answer below min_score: it agrees with nothing, so a run towards a new state starts again."""
        self._run = 0
