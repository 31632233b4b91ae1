"""Recorded traffic traces: readers for the three formats, and the replay transforms.

A trace comes in one of two kinds:

* a **rate trace** (:class:`RateTrace`), what monitoring systems export: a request count per
  interval (AWS CloudWatch's ELB ``RequestCount`` per 5 minutes, the 1998 World Cup site's
  requests per minute). It is replayed as a piecewise-constant rate, and the arrivals inside
  each bin are drawn as a Poisson process.
* an **arrival trace** (:class:`ArrivalTrace`): the time of every request, from a file of
  inter-arrival times (SWIM's ``.delta`` files) or a web server's access log. It is replayed
  request by request, so its burstiness below the bin scale survives.

Times are seconds from the trace's first record (its origin, time 0). A scenario's ``replay``
cuts the trace to ``[start_s, end_s)``, compresses it by ``speedup`` and scales it to a target
peak (:func:`apply_replay`). A trace shorter than the scenario simply ends: no traffic comes
after it, so that a replay never invents load the recording does not hold.

Every malformed line is reported as a :class:`~sim.config.errors.TraceError` naming the file,
the 1-based line number, what was expected and what was found.
"""

from __future__ import annotations

import math
import re
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from sim.config.errors import TraceError
from sim.config.schema import Replay, TraceFormat

FloatArray = npt.NDArray[np.float64]

# A rate CSV row may sit this far (as a fraction of the interval) off the grid set by the
# median spacing; exporters round their timestamps, but a row further off is not a bin.
_GRID_TOLERANCE = 0.01
_SHOWN_CHARACTERS = 60
_UNIX_EPOCH = datetime(1970, 1, 1)


# --- the two kinds of trace --------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class RateTrace:
    """A piecewise-constant request rate.

    Bin ``i`` holds ``rates_rps[i]`` on ``[bin_starts_s[i], bin_starts_s[i + 1])``; the last bin
    ends at ``end_s``. The rate is zero before the first bin and from ``end_s`` on: the trace
    has ended. ``source`` names the file, for messages.
    """

    bin_starts_s: FloatArray
    rates_rps: FloatArray
    end_s: float
    source: str = "<trace>"

    def __post_init__(self) -> None:
        starts = np.array(self.bin_starts_s, dtype=np.float64)
        rates = np.array(self.rates_rps, dtype=np.float64)
        if starts.ndim != 1 or starts.size == 0 or starts.shape != rates.shape:
            raise ValueError("bin_starts_s and rates_rps must be equal-length, non-empty 1-D")
        if np.any(np.diff(starts) <= 0) or not starts[-1] < self.end_s:
            raise ValueError("bin starts must increase strictly and end before end_s")
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError("rates must be finite and non-negative")
        starts.setflags(write=False)
        rates.setflags(write=False)
        object.__setattr__(self, "bin_starts_s", starts)
        object.__setattr__(self, "rates_rps", rates)
        object.__setattr__(self, "end_s", float(self.end_s))

    @property
    def edges_s(self) -> FloatArray:
        """All bin boundaries: the starts followed by ``end_s``."""
        return np.append(self.bin_starts_s, self.end_s)

    @property
    def total_requests(self) -> float:
        """The integral of the rate: how many requests the trace holds."""
        return float(np.sum(self.rates_rps * np.diff(self.edges_s)))

    def __call__(self, times_s: npt.ArrayLike) -> FloatArray:
        """The rate at each time (requests per second)."""
        times = np.asarray(times_s, dtype=np.float64)
        index = np.searchsorted(self.bin_starts_s, times, side="right") - 1
        inside = (index >= 0) & (times < self.end_s)
        return np.where(inside, self.rates_rps[np.clip(index, 0, None)], 0.0)

    def max_rate_rps(self, start_s: float, end_s: float) -> float:
        """The largest rate over the closed interval ``[start_s, end_s]``."""
        if start_s >= self.end_s or end_s < self.bin_starts_s[0]:
            return 0.0
        first = max(int(np.searchsorted(self.bin_starts_s, start_s, side="right")) - 1, 0)
        last = int(np.searchsorted(self.bin_starts_s, end_s, side="right")) - 1
        return float(self.rates_rps[first : last + 1].max())

    def peak_rate_rps(self, window_s: float) -> float:
        """The highest average rate over any window ``[x, x + window_s)`` inside the trace.

        When every bin is at least ``window_s`` long this is the largest bin rate. When bins are
        shorter it is the largest sliding-window average, found exactly: the average is
        piecewise linear in ``x``, so its maximum sits where a window edge meets a bin edge.
        A trace shorter than the window reports its mean rate.
        """
        edges = self.edges_s
        span_s = float(edges[-1] - edges[0])
        if window_s >= span_s:
            return self.total_requests / span_s
        cumulative = np.concatenate(([0.0], np.cumsum(self.rates_rps * np.diff(edges))))
        candidates = np.concatenate((edges, edges - window_s))
        candidates = candidates[(candidates >= edges[0]) & (candidates <= edges[-1] - window_s)]
        averages = (
            np.interp(candidates + window_s, edges, cumulative)
            - np.interp(candidates, edges, cumulative)
        ) / window_s
        # An average never exceeds the largest bin; clipping keeps the rounding of the
        # cumulative sums from reporting a peak a few ulps above the rate that caused it.
        return float(min(averages.max(), self.rates_rps.max()))

    def cut(self, start_s: float, end_s: float | None = None) -> RateTrace:
        """The part on ``[start_s, end_s)``, shifted so that ``start_s`` becomes time 0."""
        stop_s = self.end_s if end_s is None else min(end_s, self.end_s)
        if start_s >= stop_s:
            raise _window_error(self.source, start_s, self.end_s)
        first = max(int(np.searchsorted(self.bin_starts_s, start_s, side="right")) - 1, 0)
        last = int(np.searchsorted(self.bin_starts_s, stop_s, side="left")) - 1
        starts = self.bin_starts_s[first : last + 1].copy()
        starts[0] = max(starts[0], start_s)
        return RateTrace(
            starts - start_s, self.rates_rps[first : last + 1], stop_s - start_s, self.source
        )

    def compressed(self, speedup: float) -> RateTrace:
        """Time divided by ``speedup``, so rates multiplied by it: the same requests, sooner."""
        return RateTrace(
            self.bin_starts_s / speedup, self.rates_rps * speedup, self.end_s / speedup, self.source
        )

    def scaled(self, factor: float) -> RateTrace:
        """Every rate multiplied by ``factor``."""
        return RateTrace(self.bin_starts_s, self.rates_rps * factor, self.end_s, self.source)


@dataclass(frozen=True, eq=False)
class ArrivalTrace:
    """Recorded arrival times, sorted, in seconds from the trace's origin.

    No arrival lies after ``end_s``, the end of the recording. ``scale`` is how many requests
    each recorded arrival stands for on average (1 as read; :meth:`scaled` changes it). It is
    applied when arrivals are generated, by :func:`resample_arrivals`, so that a trace scaled
    up tenfold is not held ten times over in memory.
    """

    times_s: FloatArray
    end_s: float
    source: str = "<trace>"
    scale: float = 1.0

    def __post_init__(self) -> None:
        times = np.array(self.times_s, dtype=np.float64)
        if times.ndim != 1 or np.any(np.diff(times) < 0) or np.any(times < 0):
            raise ValueError("arrival times must be a sorted 1-D array of non-negative seconds")
        if times.size and times[-1] > self.end_s:
            raise ValueError("no arrival may lie after end_s")
        if not (math.isfinite(self.scale) and self.scale >= 0):
            raise ValueError("scale must be finite and non-negative")
        times.setflags(write=False)
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "end_s", float(self.end_s))

    def peak_rate_rps(self, window_s: float) -> float:
        """The most requests in any window ``[x, x + window_s)``, per second.

        The busiest window can always start at an arrival (sliding it right to the first
        arrival it holds loses nothing), so only those windows are counted. A trace shorter
        than the window reports its mean rate.
        """
        if self.end_s <= 0:
            raise TraceError(
                "the trace spans no time, so it has no rate to measure", file=self.source
            )
        if window_s >= self.end_s:
            return self.times_s.size * self.scale / self.end_s
        if self.times_s.size == 0:
            return 0.0
        window_ends = np.searchsorted(self.times_s, self.times_s + window_s, side="left")
        most = int(np.max(window_ends - np.arange(self.times_s.size)))
        return most * self.scale / window_s

    def binned(self, width_s: float) -> RateTrace:
        """The rate as arrivals per ``width_s`` bin (times ``scale``): what the trace offers."""
        bin_count = int(self.end_s // width_s) + 1
        counts = np.bincount((self.times_s // width_s).astype(np.int64), minlength=bin_count)
        starts = np.arange(counts.size, dtype=np.float64) * width_s
        rates = counts.astype(np.float64) * (self.scale / width_s)
        return RateTrace(starts, rates, counts.size * width_s, self.source)

    def cut(self, start_s: float, end_s: float | None = None) -> ArrivalTrace:
        """The arrivals in ``[start_s, end_s)``, shifted so that ``start_s`` becomes time 0."""
        stop_s = self.end_s if end_s is None else min(end_s, self.end_s)
        if start_s > stop_s:
            raise _window_error(self.source, start_s, self.end_s)
        first = int(np.searchsorted(self.times_s, start_s, side="left"))
        last = None if end_s is None else int(np.searchsorted(self.times_s, end_s, side="left"))
        kept = self.times_s[first:last] - start_s
        return ArrivalTrace(kept, stop_s - start_s, self.source, self.scale)

    def compressed(self, speedup: float) -> ArrivalTrace:
        """Every time divided by ``speedup``."""
        return ArrivalTrace(self.times_s / speedup, self.end_s / speedup, self.source, self.scale)

    def scaled(self, factor: float) -> ArrivalTrace:
        """Each arrival made to stand for ``factor`` times as many requests."""
        return ArrivalTrace(self.times_s, self.end_s, self.source, self.scale * factor)


Trace = RateTrace | ArrivalTrace
TraceT = TypeVar("TraceT", RateTrace, ArrivalTrace)


# --- replay transforms -------------------------------------------------------------------------


def apply_replay(trace: TraceT, replay: Replay) -> TraceT:
    """Cut, compress and scale a trace as the scenario's ``replay`` asks, in that order.

    The peak is measured after compression, over ``peak_window_s`` of scenario time. A rate
    trace then peaks at exactly ``scale_to_peak_rps``; an arrival trace does so in
    expectation, as its arrivals are thinned or multiplied at random when generated.
    """
    window = trace.cut(replay.start_s, replay.end_s).compressed(replay.speedup)
    if replay.scale_to_peak_rps is None:
        return window
    peak_rps = window.peak_rate_rps(replay.peak_window_s)
    if peak_rps <= 0:
        raise TraceError(
            f"cannot scale to a peak of {replay.scale_to_peak_rps:g} req/s: the replayed "
            "window holds no requests",
            file=trace.source,
            field="traffic.replay.scale_to_peak_rps",
        )
    return window.scaled(replay.scale_to_peak_rps / peak_rps)


def read_trace(path: str | Path, trace_format: TraceFormat, rng: np.random.Generator) -> Trace:
    """Read a trace in one of the scenario formats; ``rng`` spreads access-log seconds."""
    if trace_format == "rate_csv":
        return read_rate_csv(path)
    if trace_format == "interarrival":
        return read_interarrival(path)
    return read_access_log(path, rng)


def load_replay(replay: Replay, path: str | Path, rng: np.random.Generator) -> Trace:
    """Read the trace at ``path`` (the resolved ``replay.path``) and apply the transforms."""
    trace = read_trace(path, replay.format, rng)
    if isinstance(trace, RateTrace):  # one call per kind, as apply_replay keeps the kind
        return apply_replay(trace, replay)
    return apply_replay(trace, replay)


def resample_arrivals(
    times_s: FloatArray,
    following_s: FloatArray,
    factors: FloatArray | float,
    rng: np.random.Generator,
) -> FloatArray:
    """Thin or multiply recorded arrivals so that arrival ``i`` counts ``factors[i]`` times.

    Arrival ``i`` yields ``floor(f) + Bernoulli(f - floor(f))`` copies: a factor below 1 keeps
    it with probability ``f``; above 1 it is kept and ``floor(f - 1) + Bernoulli(frac)``
    extra copies are placed uniformly in the gap ``[times_s[i], following_s[i])`` up to the
    next arrival. Copies stay where the trace had traffic, so its burst shape is kept at the
    scale of the gaps, though not below it. One uniform draw per arrival decides its count,
    then one per extra copy places it. The result is sorted.
    """
    factor_array = np.broadcast_to(np.asarray(factors, dtype=np.float64), times_s.shape)
    whole = np.floor(factor_array)
    copies = whole.astype(np.int64) + (rng.random(times_s.size) < factor_array - whole)
    kept = times_s[copies > 0]
    extra_counts = np.maximum(copies - 1, 0)
    if not extra_counts.any():
        return kept
    owners = np.repeat(np.arange(times_s.size), extra_counts)
    gaps_s = following_s[owners] - times_s[owners]
    extras = times_s[owners] + rng.random(owners.size) * gaps_s
    merged = np.concatenate((kept, extras))
    merged.sort()
    return merged


# --- readers -----------------------------------------------------------------------------------


def read_rate_csv(path: str | Path) -> RateTrace:
    """Read ``timestamp,count`` rows: one count of requests per interval.

    The first row is a header when its count field is not a number. Timestamps are ISO
    date-times (``2014-04-10 00:04:00`` or with ``T``; without a zone they are taken as UTC)
    or plain numbers of seconds, and must increase. The interval is the median spacing;
    intervals with no row count as zero requests (the World Cup 98 export omits idle
    minutes). Bin ``i`` starts at ``i`` intervals after the first row's timestamp.
    """
    source = str(path)
    line_numbers: list[int] = []
    stamps: list[str] = []
    times_s: list[float] = []
    counts: list[float] = []
    style: str | None = None  # "seconds" or "date-time", set by the first data row
    first_row = True
    for line_number, text in _content_lines(path, "rows of timestamp,count"):
        stamp, comma, count_text = text.partition(",")
        stamp = stamp.strip().strip('"')
        count_text = count_text.strip().strip('"')
        if first_row:
            first_row = False
            if _number(count_text) is None:
                continue  # a header: its count field is not a number
        if not comma or "," in count_text:
            raise TraceError(
                f"expected two comma-separated fields (timestamp,count), got {_shown(text)}",
                file=source,
                line=line_number,
            )
        count = _number(count_text)
        if count is None or count < 0:
            raise TraceError(
                f"expected a non-negative count of requests, got {_shown(count_text)}",
                file=source,
                line=line_number,
            )
        seconds, style = _timestamp(stamp, style, source, line_number)
        line_numbers.append(line_number)
        stamps.append(stamp)
        times_s.append(seconds)
        counts.append(count)
    return _rate_bins(source, line_numbers, stamps, times_s, counts)


def read_interarrival(path: str | Path) -> ArrivalTrace:
    """Read one inter-arrival time in seconds per line; arrival ``i`` is the sum of the first
    ``i + 1`` gaps, so the trace's origin is the instant before the first gap.

    Blank lines are allowed at the end only. The recording ends at the last arrival.
    """
    source = str(path)
    gaps_s: list[float] = []
    for line_number, text in _content_lines(path, "one inter-arrival time in seconds per line"):
        gap_s = _number(text)
        if gap_s is None or gap_s < 0:
            raise TraceError(
                f"expected a non-negative number of seconds, got {_shown(text)}",
                file=source,
                line=line_number,
            )
        gaps_s.append(gap_s)
    times_s = np.cumsum(gaps_s)
    return ArrivalTrace(times_s, float(times_s[-1]), source)


_LOG_PREFIX = re.compile(r'\S+ \S+ (?:"[^"]*"|\S+) \[([^\]]*)\]')
_LOG_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


def read_access_log(path: str | Path, rng: np.random.Generator) -> ArrivalTrace:
    """Read a Common or Combined Log Format access log: one request per line.

    Only the bracketed time (``[10/Oct/2000:13:55:36 -0700]``) is used, with its zone
    honoured, so logs written across a zone change or merged from servers in several zones
    line up. Lines may be out of order (servers log at completion, not arrival); they are
    sorted. Log times have one-second resolution, so each request is placed uniformly at
    random within its second by one draw from ``rng`` (in time order), rather than all at the
    second's start, which would add a burst every second that the real traffic did not
    have. The origin is the start of the earliest second; the recording ends at the end of
    the latest one.
    """
    source = str(path)
    seconds_of_stamp: dict[str, int] = {}  # many requests share a second; parse each once
    seconds: list[int] = []
    for line_number, text in _content_lines(path, "Common or Combined Log Format lines"):
        prefix = _LOG_PREFIX.match(text)
        if prefix is None:
            raise TraceError(
                "expected a Common or Combined Log Format line (host ident user "
                '[10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" status bytes), '
                f"got {_shown(text)}",
                file=source,
                line=line_number,
            )
        stamp = prefix.group(1)
        second = seconds_of_stamp.get(stamp)
        if second is None:
            second = _log_second(stamp, source, line_number)
            seconds_of_stamp[stamp] = second
        seconds.append(second)
    ordered = np.sort(np.asarray(seconds, dtype=np.int64))
    origin = ordered[0]
    times_s = (ordered - origin).astype(np.float64) + rng.random(ordered.size)
    times_s.sort()
    return ArrivalTrace(times_s, float(ordered[-1] - origin + 1), source)


# --- parsing helpers ---------------------------------------------------------------------------


def _content_lines(path: str | Path, expected: str) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a file, stripped, with their 1-based numbers.

    Blank lines may end a file (editors add them) but not interrupt it: a gap in the middle of
    a trace more likely means lost data than formatting. A missing, unreadable or empty file
    is an error naming the file. Undecodable bytes become U+FFFD and so show up in the
    message of the line that holds them.
    """
    source = str(path)
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as file:
            found = yield from _non_blank(file, source, expected)
    except FileNotFoundError:
        raise TraceError(f"no such trace file; expected {expected}", file=source) from None
    except OSError as error:
        raise TraceError(f"cannot read the trace: {error.strerror}", file=source) from None
    if not found:
        raise TraceError(f"the trace is empty; expected {expected}", file=source)


def _non_blank(
    lines: Iterable[str], source: str, expected: str
) -> Generator[tuple[int, str], None, bool]:
    """Number and strip ``lines``, skipping trailing blank ones; return whether any held text."""
    first_blank: int | None = None
    found = False
    for line_number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            first_blank = first_blank or line_number
            continue
        if first_blank is not None:
            raise TraceError(
                f"expected {expected}, got an empty line (blank lines may only end the file)",
                file=source,
                line=first_blank,
            )
        found = True
        yield line_number, text
    return found


def _number(text: str) -> float | None:
    """``text`` as a finite float, or None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _shown(text: str) -> str:
    """``text`` quoted for a message, shortened when long."""
    if len(text) > _SHOWN_CHARACTERS:
        text = text[: _SHOWN_CHARACTERS - 1] + "…"
    return repr(text)


def _timestamp(text: str, style: str | None, source: str, line_number: int) -> tuple[float, str]:
    """A rate CSV timestamp in seconds, and its style; every row must share the first's."""
    if style == "date-time":  # the common case first: one parse per row
        seconds = _iso_seconds(text)
        if seconds is not None:
            return seconds, style
    seconds = _number(text)
    row_style = "seconds"
    if seconds is None:
        seconds = _iso_seconds(text)
        row_style = "date-time"
    if seconds is None:
        raise TraceError(
            "expected a timestamp (an ISO date-time such as 2014-04-10 00:04:00, or "
            f"seconds), got {_shown(text)}",
            file=source,
            line=line_number,
        )
    if style is not None and row_style != style:
        raise TraceError(
            f"expected a timestamp in {style} like the first row's, got {_shown(text)}",
            file=source,
            line=line_number,
        )
    return seconds, row_style


def _iso_seconds(text: str) -> float | None:
    """An ISO date-time as Unix seconds (UTC when it names no zone), or None."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return (moment - _UNIX_EPOCH).total_seconds()
    return moment.timestamp()


def _rate_bins(
    source: str,
    line_numbers: list[int],
    stamps: list[str],
    times_s: list[float],
    counts: list[float],
) -> RateTrace:
    """Place each row's count on the grid of the median spacing; absent rows count zero."""
    if len(times_s) < 2:
        raise TraceError(
            f"expected at least two data rows to infer the interval, found {len(times_s)}",
            file=source,
        )
    times = np.asarray(times_s)
    spacing_s = np.diff(times)
    backwards = np.flatnonzero(spacing_s <= 0)
    if backwards.size:
        row = int(backwards[0]) + 1
        raise TraceError(
            f"expected a timestamp later than the previous row's, got {_shown(stamps[row])}",
            file=source,
            line=line_numbers[row],
        )
    interval_s = float(np.median(spacing_s))
    steps = (times - times[0]) / interval_s
    bins = np.rint(steps).astype(np.int64)
    off_grid = np.abs(steps - bins) > _GRID_TOLERANCE
    shared = np.concatenate(([False], np.diff(bins) == 0))
    bad = np.flatnonzero(off_grid | shared)
    if bad.size:
        row = int(bad[0])
        raise TraceError(
            f"expected a timestamp on the {interval_s:g} s grid set by the median spacing, "
            f"got {_shown(stamps[row])} ({times[row] - times[0]:g} s after the first row)",
            file=source,
            line=line_numbers[row],
        )
    rates = np.zeros(int(bins[-1]) + 1)
    rates[bins] = np.asarray(counts) / interval_s
    starts = np.arange(rates.size, dtype=np.float64) * interval_s
    return RateTrace(starts, rates, rates.size * interval_s, source)


def _log_second(stamp: str, source: str, line_number: int) -> int:
    """An access-log time (``10/Oct/2000:13:55:36 -0700``) as Unix seconds."""
    match = _LOG_TIME.fullmatch(stamp)
    moment: datetime | None = None
    if match is not None and match.group(2).title() in _MONTHS:
        day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
        offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes))
        try:
            zone = timezone(-offset if sign == "-" else offset)
            moment = datetime(
                int(year), _MONTHS[month.title()], int(day),
                int(hour), int(minute), int(second), tzinfo=zone,
            )  # fmt: skip
        except ValueError:
            moment = None
    if moment is None:
        raise TraceError(
            f"expected a time like [10/Oct/2000:13:55:36 -0700], got {_shown('[' + stamp + ']')}",
            file=source,
            line=line_number,
        )
    return int(moment.timestamp())


def _window_error(source: str, start_s: float, end_s: float) -> TraceError:
    return TraceError(
        f"the replay window starts at {start_s:g} s, after the trace ends "
        f"({end_s:g} s after its first record)",
        file=source,
        field="traffic.replay.start_s",
    )
