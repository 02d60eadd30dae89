"""The lab machinery: a :class:`Lab` that records results, :class:`LabCheckError`, and the
comparison that turns a wrong array into a helpful message.

A check function (``check_stft``, ``check_frame``, ...) calls a student's function on a few
inputs, compares each result with the reference from :mod:`mirlab.features`, and raises
:class:`LabCheckError` with a message that says which input, which shape or value differs, and,
when the output matches a known typical mistake (a symmetric window, a missing frame, a
missing normalisation, ...), names that mistake.
"""

from __future__ import annotations

import functools
import textwrap
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["LabCheckError", "Lab", "Mistake", "exercise", "compare", "exercises_of"]

_LABS_DIR = str(Path(__file__).resolve().parent)
_REGISTRY: dict[str, list[str]] = {}


class LabCheckError(AssertionError):
    """A lab check failed; the message says what differs and hints at the likely mistake."""


@dataclass(frozen=True)
class Mistake:
    """The output a typical mistake would give, and the hint that explains it."""

    output: np.ndarray
    hint: str


def exercises_of(lab: str) -> list[str]:
    """Names of the exercises of ``lab`` (in the order their checks are defined)."""
    return list(_REGISTRY.get(lab, []))


def exercise(lab: str, name: str):
    """Declare a check function as the auto-check of exercise ``name`` of ``lab``.

    The decorated check prints ``✓ <name>: passed`` on success (``verbose=False`` keeps it
    quiet, as :meth:`Lab.check` does) and lets :class:`LabCheckError` and the student's own
    exceptions (``NotImplementedError`` from a stub) propagate.
    """

    def decorate(body):
        @functools.wraps(body)
        def check(*args, verbose: bool = True, **kwargs):
            body(*args, **kwargs)
            if verbose:
                print(f"✓ {name}: passed")
            return True

        check.exercise = name
        check.lab = lab
        if name not in _REGISTRY.setdefault(lab, []):
            _REGISTRY[lab].append(name)
        return check

    return decorate


# --- comparing arrays -----------------------------------------------------------------------

def _as_array(got, head: str) -> np.ndarray:
    if got is None:
        raise LabCheckError(f"{head} your function returned None "
                            "(did you forget the `return` statement?)")
    try:
        arr = np.asarray(got)
    except Exception as err:  # ragged lists and the like
        raise LabCheckError(f"{head} could not turn your result into an array ({err})") from None
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise LabCheckError(f"{head} expected a numeric array; got dtype {arr.dtype}")
    return arr


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    if a.shape != b.shape:
        return False
    if np.iscomplexobj(b) and not np.iscomplexobj(a) and np.any(np.abs(b.imag) > atol):
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(a, b, rtol=rtol, atol=atol))


def _where_it_differs(got: np.ndarray, expected: np.ndarray, rtol: float, atol: float) -> str:
    with np.errstate(invalid="ignore"):
        diff = np.abs(got.astype(np.result_type(got, expected)) - expected)
        bad = ~(diff <= atol + rtol * np.abs(expected))
    idx = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(diff, nan=np.inf), -1)),
                           got.shape)
    where = ", ".join(str(int(i)) for i in idx)
    text = (f"{int(bad.sum())} of {bad.size} values differ; the largest difference is at "
            f"[{where}]: yours {_fmt(got[idx])}, expected {_fmt(expected[idx])}")
    if got.ndim == 2:
        cols = np.flatnonzero(bad.any(axis=0))
        rows = np.flatnonzero(bad.any(axis=1))
        text += (f"\n  rows that differ: {_ranges(rows)} of {got.shape[0]}; "
                 f"columns that differ: {_ranges(cols)} of {got.shape[1]}")
    return text


def _ranges(idx: np.ndarray) -> str:
    if len(idx) == 0:
        return "none"
    if len(idx) > 6:
        return f"{len(idx)} ({', '.join(map(str, idx[:3]))}, ..., {idx[-1]})"
    return ", ".join(map(str, idx))


def _fmt(x) -> str:
    x = complex(x) if np.iscomplexobj(x) else float(x)
    if isinstance(x, complex):
        return f"{x.real:.4g}{x.imag:+.4g}j"
    return f"{x:.4g}"


def compare(got, expected, *, what: str, case: str | None, mistakes=(), shape_hint=None,
            layout: str = "features are shaped (n_features, n_frames): one frame per column",
            rtol: float = 1e-4, atol: float | None = None) -> np.ndarray:
    """Compare a student's result with the reference; raise :class:`LabCheckError` if it differs.

    Parameters
    ----------
    got : array_like
        The student's result.
    expected : np.ndarray
        The reference result.
    what : str
        What is being checked, e.g. ``"stft(y, n_fft=256, hop_length=64)"``.
    case : str or None
        A short description of the input, e.g. ``"white noise (2000 samples)"``.
    mistakes : iterable of Mistake
        Outputs of typical mistakes; a result equal to one of them gets that mistake's hint.
    shape_hint : callable, optional
        ``shape_hint(got_shape) -> str or None``: explains a wrong shape.
    layout : str
        What rows and columns mean, quoted when the result looks transposed.
    rtol, atol : float
        Tolerances of ``np.allclose``; ``atol`` defaults to ``1e-5`` times the largest
        reference magnitude (so float32 results pass).

    Returns
    -------
    np.ndarray
        The student's result as an array (when it matches).
    """
    head = f"{what} on {case}:" if case else f"{what}:"
    got = _as_array(got, head)
    expected = np.asarray(expected)
    if atol is None:
        atol = 1e-5 * max(float(np.max(np.abs(expected), initial=0.0)), 1e-3)
    if _close(got, expected, rtol, atol) and np.all(np.isfinite(got)):
        return got
    for mistake in mistakes:
        out = np.asarray(mistake.output)
        if _close(got, out, rtol, atol):
            raise LabCheckError(f"{head} {mistake.hint}")
    if got.ndim == 2 and _close(got.T, expected, rtol, atol):
        raise LabCheckError(
            f"{head} your result is transposed: expected shape {expected.shape}, got "
            f"{got.shape}: {layout}.")
    if not np.all(np.isfinite(got)):
        bad = np.argwhere(~np.isfinite(got))
        raise LabCheckError(
            f"{head} your result holds {len(bad)} NaN or infinite value(s), the first at "
            f"{tuple(int(i) for i in bad[0])}. Look for a division by zero (e.g. normalising "
            "a silent frame: divide by max(norm, a tiny number) or leave such frames at 0).")
    if got.shape != expected.shape:
        msg = f"{head} expected shape {expected.shape}, got {got.shape}."
        if got.ndim == 2 and got.shape == expected.shape[::-1]:
            msg += f" It looks transposed: {layout}."
        hint = shape_hint(got.shape) if shape_hint is not None else None
        if hint:
            msg += f" Hint: {hint}"
        raise LabCheckError(msg)
    if np.iscomplexobj(expected) and not np.iscomplexobj(got):
        msg = f"{head} expected complex values (dtype complex), got dtype {got.dtype}."
        if _close(got, np.abs(expected), rtol, atol):
            msg += " Your values are the magnitudes: return the complex spectrum, not abs()."
        raise LabCheckError(msg)
    msg = f"{head} the shape is right but the values differ.\n  "
    msg += _where_it_differs(got, expected, rtol, atol)
    if np.issubdtype(got.dtype, np.integer) and not np.issubdtype(expected.dtype, np.integer):
        msg += (f"\n  Your result has the integer dtype {got.dtype}, so the values were "
                "rounded: create the output array with a float dtype (e.g. np.zeros(shape)).")
    raise LabCheckError(msg)


# --- the Lab --------------------------------------------------------------------------------

_STATUS_TEXT = {
    "passed": "✓ passed",
    "failed": "✗ failed",
    "todo": "… to do",
    "unchecked": "· not checked yet",
}


@dataclass
class Lab:
    """The state of one lab session: which exercises passed, failed or are still to do.

    Create it at the top of a lab notebook and route every check through :meth:`check`;
    :meth:`report` prints the summary at the end.

    Parameters
    ----------
    name : str
        The lab's id (``"lab01"``); its exercises are listed in the report even before their
        check cell ran.
    raise_on_failure : bool
        Re-raise a failed check as :class:`LabCheckError` (for grading tools) instead of
        printing it and carrying on (the default, so that one failing exercise does not stop
        the rest of the notebook).

    Examples
    --------
    >>> from mirlab import labs
    >>> lab = labs.Lab("lab01")
    >>> def my_frame(y, frame_length, hop_length):
    ...     raise NotImplementedError()
    >>> lab.check("frame", labs.check_frame, my_frame)
    ✗ frame: not done yet (replace `raise NotImplementedError()` by your code)
    >>> lab.status()["frame"]
    'todo'
    """

    name: str
    raise_on_failure: bool = False
    results: dict = field(default_factory=dict)

    def exercises(self) -> list[str]:
        """The lab's exercises: the registered ones, then any other checked name."""
        names = exercises_of(self.name)
        return names + [n for n in self.results if n not in names]

    def check(self, exercise: str, check_fn, *args, **kwargs) -> None:
        """Run ``check_fn(*args, **kwargs)``, record the outcome in :meth:`status` and print it.

        A stub that raises ``NotImplementedError`` is recorded as *to do*, a
        :class:`LabCheckError` as *failed* (message printed, no traceback), and any other
        exception from the student's code as *failed* with the lines of the student's code
        that led to it.
        """
        quiet = {"verbose": False} if hasattr(check_fn, "exercise") else {}
        try:
            check_fn(*args, **quiet, **kwargs)
        except NotImplementedError as err:
            self._record(exercise, "todo", f"✗ {exercise}: not done yet ("
                         + _where_not_done(err, args) + ")")
            return
        except LabCheckError as err:
            self._record(exercise, "failed", f"✗ {exercise}: failed\n{_indent(str(err))}")
            if self.raise_on_failure:
                raise
        except Exception as err:
            text = (f"✗ {exercise}: your code raised {type(err).__name__}: {err}\n"
                    + textwrap.indent(_student_traceback(err), "    "))
            self._record(exercise, "failed", text.rstrip())
            if self.raise_on_failure:
                raise LabCheckError(text) from err
        else:
            self._record(exercise, "passed", f"✓ {exercise}: passed")

    def _record(self, exercise: str, status: str, text: str) -> None:
        self.results[exercise] = (status, text)
        print(text)

    def status(self) -> dict:
        """``{exercise: "passed" | "failed" | "todo" | "unchecked"}``."""
        return {n: self.results.get(n, ("unchecked", ""))[0] for n in self.exercises()}

    def report(self) -> None:
        """Print which exercises passed, failed or are still to do (see also :meth:`status`)."""
        status = self.status()
        n_passed = sum(s == "passed" for s in status.values())
        print(f"Lab {self.name}: {n_passed} of {len(status)} exercises passed")
        width = max((len(n) for n in status), default=0)
        for name, s in status.items():
            print(f"  {name:<{width}}  {_STATUS_TEXT[s]}")
        todo = [n for n, s in status.items() if s != "passed"]
        if not todo:
            print("All exercises passed. Well done!")
        else:
            print("Still to do: " + ", ".join(todo))


def _indent(text: str, width: int = 96) -> str:
    """Indent by four spaces and wrap long lines (notebook outputs do not wrap)."""
    lines = []
    for line in text.splitlines():
        lead = " " * (len(line) - len(line.lstrip()))
        lines += textwrap.wrap(line, width=width, initial_indent="    " + lead,
                               subsequent_indent="    " + lead + "  ", break_long_words=False,
                               break_on_hyphens=False, drop_whitespace=True) or [""]
    return "\n".join(lines)


def _where_not_done(err: NotImplementedError, args) -> str:
    """Say which function still raises NotImplementedError (the checked one or one it calls)."""
    frames = traceback.extract_tb(err.__traceback__)
    raised_in = frames[-1].name if frames else None
    checked = next((getattr(a, "__name__", None) for a in args if callable(a)), None)
    if raised_in and checked and raised_in not in (checked, "<lambda>") \
            and not frames[-1].filename.startswith(_LABS_DIR):
        return (f"`{checked}` calls `{raised_in}`, which still raises NotImplementedError: "
                "finish that exercise first")
    return "replace `raise NotImplementedError()` by your code"


def _student_traceback(err: BaseException) -> str:
    """The frames of the traceback outside mirlab.labs and outside installed packages."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if not f.filename.startswith(_LABS_DIR) and "site-packages" not in f.filename]
    if not frames:
        return ""
    return "".join(traceback.format_list(frames[-3:]))
