"""Trace readers, their error messages, the replay transforms, and the real traces."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from sim.config.errors import TraceError
from sim.config.schema import Replay, Traffic
from sim.traffic import (
    ArrivalGenerator,
    ArrivalTrace,
    RateTrace,
    apply_replay,
    read_access_log,
    read_interarrival,
    read_rate_csv,
    read_trace,
    resample_arrivals,
)
from sim.traffic.traces import TraceFormat

TRACES = Path(__file__).resolve().parent / "data" / "traces"
# The real traces sit beside the repository, in ../shared/traces; a user's clone has none.
SHARED_TRACES = Path(__file__).resolve().parents[1].parent / "shared" / "traces"


def replay(**fields: object) -> Replay:
    return Replay.model_validate({"path": "unused", "format": "rate_csv", **fields})


# --- readers -----------------------------------------------------------------------------------


def test_rate_csv_with_header_and_gap() -> None:
    trace = read_rate_csv(TRACES / "requests_per_minute.csv")
    np.testing.assert_array_equal(trace.bin_starts_s, [0, 60, 120, 180, 240, 300])
    # 00:03 is missing: a zero bin. Rates are counts per 60 s.
    np.testing.assert_array_equal(trace.rates_rps, [2.0, 1.0, 0.5, 0.0, 4.0, 0.0])
    assert trace.end_s == 360
    assert trace.total_requests == 450


TIMESTAMP_STYLES = {
    # name: (rows, expected bin starts, expected rates)
    "seconds, no header": ("0,10\n10,20\n20,30\n", [0, 10, 20], [1, 2, 3]),
    "date-times with a space": (
        "2014-04-10 00:04:00,30\n2014-04-10 00:09:00,60\n",
        [0, 300],
        [0.1, 0.2],
    ),
    "ISO with T and a zone": (
        "time,requests\n2024-07-01T10:00:00+02:00,60\n2024-07-01T08:01:00Z,120\n",
        [0, 60],
        [1, 2],
    ),
    "quoted fields": ('"ts","n"\n"100","5"\n"105","10"\n', [0, 5], [1, 2]),
}


@pytest.mark.parametrize(
    ("rows", "starts", "rates"), TIMESTAMP_STYLES.values(), ids=TIMESTAMP_STYLES.keys()
)
def test_rate_csv_timestamp_styles(
    tmp_path: Path, rows: str, starts: list[float], rates: list[float]
) -> None:
    path = tmp_path / "trace.csv"
    path.write_text(rows)
    trace = read_rate_csv(path)
    np.testing.assert_allclose(trace.bin_starts_s, starts)
    np.testing.assert_allclose(trace.rates_rps, rates)


def test_rate_csv_fills_gaps_of_the_fractional_grid(tmp_path: Path) -> None:
    path = tmp_path / "trace.csv"
    path.write_text("0.5,1\n1.0,2\n1.5,3\n2.5,4\n")
    trace = read_rate_csv(path)
    np.testing.assert_allclose(trace.rates_rps, [2, 4, 6, 0, 8])
    assert trace.end_s == 2.5


def test_interarrival_cumulates_gaps_and_allows_trailing_blank_lines() -> None:
    trace = read_interarrival(TRACES / "interarrivals.txt")
    np.testing.assert_array_equal(trace.times_s, [0.5, 0.75, 0.75, 2.0, 4.0])
    assert trace.end_s == 4.0
    assert trace.scale == 1.0


ACCESS_LOGS = {
    # name: (file, whole seconds after the earliest one, recording length)
    # 13:55:36 -0700 and 22:55:38 +0200 are 20:55:36 and 20:55:38 UTC; lines are out of order.
    "common, two zones": ("access_common.log", [0, 0, 1, 2, 5], 6.0),
    # 30/Jun 23:59:58 -0400 is 01/Jul 09:29:58 +0530.
    "combined, two zones": ("access_combined.log", [0, 2, 3, 5], 6.0),
}


@pytest.mark.parametrize(("name", "seconds", "end_s"), ACCESS_LOGS.values(), ids=ACCESS_LOGS.keys())
def test_access_log_honours_zones_and_spreads_each_second(
    name: str, seconds: list[int], end_s: float
) -> None:
    trace = read_access_log(TRACES / name, np.random.default_rng(4))
    np.testing.assert_array_equal(np.floor(trace.times_s), seconds)
    assert np.all(np.diff(trace.times_s) >= 0)
    assert trace.end_s == end_s
    again = read_access_log(TRACES / name, np.random.default_rng(4))
    np.testing.assert_array_equal(trace.times_s, again.times_s)
    other = read_access_log(TRACES / name, np.random.default_rng(5))
    assert not np.array_equal(trace.times_s, other.times_s)


def test_access_log_spreads_a_busy_second_uniformly(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    line = '10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.1" 200 1\n'
    path.write_text(line * 20_000)
    trace = read_access_log(path, np.random.default_rng(0))
    assert trace.end_s == 1.0
    counts = np.histogram(trace.times_s, bins=10, range=(0, 1))[0]
    assert np.all(np.abs(counts - 2000) < 4 * math.sqrt(2000))


@pytest.mark.parametrize("trace_format", ["rate_csv", "interarrival", "access_log"])
def test_read_trace_dispatches_on_format(trace_format: TraceFormat) -> None:
    names = {
        "rate_csv": "requests_per_minute.csv",
        "interarrival": "interarrivals.txt",
        "access_log": "access_common.log",
    }
    trace = read_trace(TRACES / names[trace_format], trace_format, np.random.default_rng(0))
    assert isinstance(trace, RateTrace if trace_format == "rate_csv" else ArrivalTrace)


# --- malformed input ---------------------------------------------------------------------------

MALFORMED = {
    # name: (format, file content, line reported, text the message must quote)
    "csv: count not a number": ("rate_csv", "timestamp,count\n0,5\n60,abc\n", 3, "'abc'"),
    "csv: negative count": ("rate_csv", "0,5\n60,-2\n", 2, "'-2'"),
    "csv: count not finite": ("rate_csv", "0,5\n60,nan\n", 2, "'nan'"),
    "csv: bad timestamp": ("rate_csv", "2014-04-10 00:00:00,1\nyesterday,2\n", 2, "'yesterday'"),
    "csv: timestamp style changes": (
        "rate_csv",
        "0,1\n60,1\n2014-04-10 00:02:00,1\n",
        3,
        "'2014-04-10 00:02:00'",
    ),
    "csv: timestamp goes back": ("rate_csv", "0,1\n60,1\n30,1\n", 3, "'30'"),
    "csv: timestamp repeats": ("rate_csv", "0,1\n60,1\n60,1\n", 3, "'60'"),
    "csv: three fields": ("rate_csv", "0,1\n60,1,7\n", 2, "'60,1,7'"),
    "csv: one field": ("rate_csv", "0,1\n60\n", 2, "'60'"),
    "csv: off the grid": ("rate_csv", "0,1\n60,1\n150,1\n180,1\n240,1\n", 3, "'150'"),
    "csv: blank line inside": ("rate_csv", "0,1\n\n60,1\n", 2, "empty line"),
    "interarrival: word": ("interarrival", "0.1\nabc\n", 2, "'abc'"),
    "interarrival: negative": ("interarrival", "-0.5\n", 1, "'-0.5'"),
    "interarrival: infinite": ("interarrival", "0.1\n0.2\ninf\n", 3, "'inf'"),
    "interarrival: two numbers": ("interarrival", "0.1\n0.2 0.3\n", 2, "'0.2 0.3'"),
    "interarrival: blank line inside": ("interarrival", "0.1\n   \n0.2\n", 2, "empty line"),
    "log: not a log line": (
        "access_log",
        '1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1\nhello world\n',
        2,
        "'hello world'",
    ),
    "log: unknown month": (
        "access_log",
        '1.2.3.4 - - [10/Foo/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 1\n',
        1,
        "'[10/Foo/2000:13:55:36 -0700]'",
    ),
    "log: no zone": (
        "access_log",
        '1.2.3.4 - - [10/Oct/2000:13:55:36] "GET / HTTP/1.0" 200 1\n',
        1,
        "'[10/Oct/2000:13:55:36]'",
    ),
    "log: hour out of range": (
        "access_log",
        '1.2.3.4 - - [10/Oct/2000:25:55:36 +0000] "GET / HTTP/1.0" 200 1\n',
        1,
        "'[10/Oct/2000:25:55:36 +0000]'",
    ),
}


@pytest.mark.parametrize(
    ("trace_format", "content", "line", "quoted"), MALFORMED.values(), ids=MALFORMED.keys()
)
def test_malformed_line_names_file_line_and_value(
    tmp_path: Path, trace_format: TraceFormat, content: str, line: int, quoted: str
) -> None:
    path = tmp_path / "broken.trace"
    path.write_text(content)
    with pytest.raises(TraceError) as caught:
        read_trace(path, trace_format, np.random.default_rng(0))
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: expected ")
    assert quoted in message
    assert caught.value.line == line
    assert "\n" not in message


@pytest.mark.parametrize("trace_format", ["rate_csv", "interarrival", "access_log"])
def test_missing_file_is_named(tmp_path: Path, trace_format: TraceFormat) -> None:
    path = tmp_path / "absent.trace"
    with pytest.raises(TraceError, match="no such trace file") as caught:
        read_trace(path, trace_format, np.random.default_rng(0))
    assert str(caught.value).startswith(f"{path}: ")
    assert caught.value.line is None


EMPTY = {"no bytes": "", "only blank lines": "\n  \n\n"}


@pytest.mark.parametrize("content", EMPTY.values(), ids=EMPTY.keys())
@pytest.mark.parametrize("trace_format", ["rate_csv", "interarrival", "access_log"])
def test_empty_file_is_an_error(tmp_path: Path, trace_format: TraceFormat, content: str) -> None:
    path = tmp_path / "empty.trace"
    path.write_text(content)
    with pytest.raises(TraceError, match="the trace is empty") as caught:
        read_trace(path, trace_format, np.random.default_rng(0))
    assert str(caught.value).startswith(f"{path}: ")


SHORT_CSV = {"header only": "timestamp,count\n", "one row": "timestamp,count\n0,4\n"}


@pytest.mark.parametrize("content", SHORT_CSV.values(), ids=SHORT_CSV.keys())
def test_rate_csv_needs_two_rows_for_an_interval(tmp_path: Path, content: str) -> None:
    path = tmp_path / "short.csv"
    path.write_text(content)
    with pytest.raises(
        TraceError, match=f"^{re.escape(str(path))}: expected at least two data rows"
    ):
        read_rate_csv(path)


def test_directory_is_not_a_trace(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="cannot read the trace"):
        read_interarrival(tmp_path)


# --- transforms: rate traces -------------------------------------------------------------------


def minute_trace() -> RateTrace:
    return read_rate_csv(TRACES / "requests_per_minute.csv")


def test_cut_keeps_partial_bins_and_shifts_to_zero() -> None:
    trace = minute_trace().cut(90, 250)
    np.testing.assert_array_equal(trace.bin_starts_s, [0, 30, 90, 150])
    np.testing.assert_array_equal(trace.rates_rps, [1.0, 0.5, 0.0, 4.0])
    assert trace.end_s == 160
    assert trace.total_requests == 30 + 30 + 0 + 40


def test_cut_past_the_end_is_an_error_naming_file_and_field() -> None:
    with pytest.raises(TraceError, match=r"requests_per_minute\.csv: traffic\.replay\.start_s"):
        minute_trace().cut(360)


def test_speedup_compresses_time_and_keeps_every_request() -> None:
    trace = minute_trace()
    fast = apply_replay(trace, replay(speedup=4))
    np.testing.assert_array_equal(fast.bin_starts_s, trace.bin_starts_s / 4)
    np.testing.assert_array_equal(fast.rates_rps, trace.rates_rps * 4)
    assert fast.end_s == 90
    assert fast.total_requests == trace.total_requests


PEAKS = {
    # name: (rates of 60 s bins, window, expected peak)
    "window inside a bin: the largest bin": ([0, 10, 20, 0], 60.0, 20.0),
    "shorter window: still the largest bin": ([0, 10, 20, 0], 15.0, 20.0),
    "longer window: the best sliding average": ([0, 10, 20, 0], 90.0, (1200 + 300) / 90),
    "window of two bins": ([0, 10, 20, 0], 120.0, 15.0),
    "window longer than the trace: its mean": ([0, 10, 20, 0], 1000.0, 7.5),
}


@pytest.mark.parametrize(("rates", "window_s", "expected"), PEAKS.values(), ids=PEAKS.keys())
def test_peak_rate_of_a_rate_trace(rates: list[float], window_s: float, expected: float) -> None:
    trace = RateTrace(np.arange(len(rates)) * 60.0, np.array(rates, dtype=float), 60.0 * len(rates))
    assert trace.peak_rate_rps(window_s) == pytest.approx(expected, rel=1e-12)


SCALINGS = {
    # name: replay fields
    "peak over bins as long as the window": {"scale_to_peak_rps": 800.0},
    "peak over two-bin windows": {"scale_to_peak_rps": 800.0, "peak_window_s": 120},
    "after a cut and a speedup": {
        "scale_to_peak_rps": 37.5,
        "start_s": 30,
        "end_s": 330,
        "speedup": 7,
        "peak_window_s": 25,
    },
}


@pytest.mark.parametrize("fields", SCALINGS.values(), ids=SCALINGS.keys())
def test_scale_to_peak_hits_the_target_exactly(fields: dict[str, float]) -> None:
    settings = replay(**fields)
    scaled = apply_replay(minute_trace(), settings)
    target = settings.scale_to_peak_rps
    assert target is not None
    assert abs(scaled.peak_rate_rps(settings.peak_window_s) - target) <= 1e-9 * target


def test_scaling_a_window_without_requests_is_an_error() -> None:
    with pytest.raises(TraceError, match="holds no requests"):
        apply_replay(minute_trace(), replay(start_s=180, end_s=240, scale_to_peak_rps=10))


# --- transforms: arrival traces ----------------------------------------------------------------


def test_arrival_trace_cut_speedup_and_peak() -> None:
    trace = read_interarrival(TRACES / "interarrivals.txt")  # 0.5 0.75 0.75 2 4
    window = trace.cut(0.6, 3.0)
    np.testing.assert_allclose(window.times_s, [0.15, 0.15, 1.4])
    assert window.end_s == pytest.approx(2.4)
    fast = window.compressed(2)
    np.testing.assert_allclose(fast.times_s, [0.075, 0.075, 0.7])
    assert trace.peak_rate_rps(1.0) == 3.0  # [0.5, 1.5) holds three arrivals
    assert trace.peak_rate_rps(0.25) == 8.0  # [0.75, 1.0) holds two
    assert trace.peak_rate_rps(10.0) == 5 / 4.0  # longer than the trace: its mean


def test_arrival_trace_scaling_sets_the_expected_peak() -> None:
    trace = read_interarrival(TRACES / "interarrivals.txt")
    scaled = apply_replay(trace, replay(scale_to_peak_rps=30.0, peak_window_s=1.0))
    assert scaled.scale == pytest.approx(10.0)
    assert scaled.peak_rate_rps(1.0) == pytest.approx(30.0)
    np.testing.assert_array_equal(scaled.times_s, trace.times_s)


RESAMPLINGS = {
    # name: (factor, copies each arrival may yield)
    "identity": (1.0, {1}),
    "none": (0.0, {0}),
    "thinning": (0.3, {0, 1}),
    "duplication": (2.5, {2, 3}),
    "whole multiple": (3.0, {3}),
}


@pytest.mark.parametrize(("factor", "allowed"), RESAMPLINGS.values(), ids=RESAMPLINGS.keys())
def test_resample_arrivals_keeps_copies_in_their_gap(factor: float, allowed: set[int]) -> None:
    count = 50_000
    times = np.arange(count, dtype=float)
    result = resample_arrivals(times, times + 1, factor, np.random.default_rng(9))
    assert np.all(np.diff(result) >= 0)
    copies = np.bincount(np.floor(result).astype(np.int64), minlength=count)
    assert set(np.unique(copies).tolist()) <= allowed
    spread = math.sqrt(count * (factor % 1) * (1 - factor % 1))
    assert abs(result.size - factor * count) <= 4 * spread
    originals = np.intersect1d(result, times)
    assert originals.size == np.count_nonzero(copies)  # the first copy keeps its time


def test_resample_arrivals_follows_per_arrival_factors() -> None:
    times = np.array([0.0, 1.0, 2.0])
    result = resample_arrivals(
        times, times + 1, np.array([0.0, 1.0, 4.0]), np.random.default_rng(0)
    )
    assert result[0] == 1.0
    assert result.size == 5 and np.all((result[1:] >= 2.0) & (result[1:] < 3.0))


# --- the real traces ---------------------------------------------------------------------------


@pytest.fixture
def shared_traces() -> Path:
    if not SHARED_TRACES.is_dir():
        pytest.skip(
            f"the real traces are not here: {SHARED_TRACES} is absent (they are kept in "
            "../shared/traces beside the repository, not in a clone of it)"
        )
    return SHARED_TRACES


def test_elb_request_count(shared_traces: Path) -> None:
    trace = read_rate_csv(shared_traces / "elb_request_count_8c0756.csv")
    zero_bins = int(np.count_nonzero(trace.rates_rps == 0))  # every recorded count is ≥ 1
    assert trace.rates_rps.size - zero_bins == 4032
    assert zero_bins == 8
    assert np.all(np.diff(trace.bin_starts_s) == 300)
    assert trace.end_s / 86400 == pytest.approx(14, abs=0.05)
    assert trace.total_requests == pytest.approx(249_327)
    assert trace.peak_rate_rps(300) == pytest.approx(656 / 300)


def test_elb_replayed_as_a_two_hour_surge(shared_traces: Path) -> None:
    fields = {
        "replay": {
            "path": "elb_request_count_8c0756.csv",
            "format": "rate_csv",
            "speedup": 168,  # 14 days in 2 hours
            "scale_to_peak_rps": 100,
        }
    }
    traffic = Traffic.model_validate(fields)
    arrival_generator = ArrivalGenerator(
        traffic, 7200, np.random.default_rng(1), shared_traces.joinpath
    )
    base = arrival_generator.rate_function.base
    assert isinstance(base, RateTrace)
    # The peak is measured over 60 s windows of scenario time; compressed bins last 1.8 s,
    # and the busiest of them runs well above the windowed peak.
    assert base.peak_rate_rps(60) == pytest.approx(100, rel=1e-12)
    assert base.rates_rps.max() > 200
    expected = base.cut(0, 7200).total_requests  # the compressed trace runs 14 s past the end
    count = sum(chunk.size for chunk in arrival_generator.chunks())
    assert abs(count - expected) < 4 * math.sqrt(expected)


def test_world_cup_day_as_interarrivals(shared_traces: Path) -> None:
    trace = read_interarrival(shared_traces / "wc_day53-r0-105m-l70.delta")
    assert trace.times_s.size == 142_166
    assert trace.end_s == pytest.approx(6300.05, abs=0.01)
    traffic = Traffic.model_validate(
        {"replay": {"path": "wc_day53-r0-105m-l70.delta", "format": "interarrival"}}
    )
    arrival_generator = ArrivalGenerator(
        traffic, 7200, np.random.default_rng(1), shared_traces.joinpath
    )
    replayed = np.concatenate(list(arrival_generator.chunks()))
    np.testing.assert_array_equal(replayed, trace.times_s)


def test_world_cup_requests_per_minute(shared_traces: Path) -> None:
    trace = read_rate_csv(shared_traces / "wc98_requests_per_minute.csv")
    zero_bins = int(np.count_nonzero(trace.rates_rps == 0))
    assert trace.rates_rps.size - zero_bins == 125_300
    assert zero_bins == 10
    assert trace.total_requests == pytest.approx(1_352_804_107)
    assert trace.peak_rate_rps(60) == pytest.approx(229_426 / 60)
