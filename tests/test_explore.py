"""``explore`` without a browser: message checks, the session's operations, recording and
replay (bit for bit), and the command line's refusals. The page itself: test_explore_browser.py.
"""

from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest

from conftest import assert_bits_equal, backend_param
from grayscott.cli import main
from grayscott.errors import GrayScottError
from grayscott.explore import Session, replay
from grayscott.explore.live import Live
from grayscott.explore.messages import MAX_MESSAGE, Command, Refused, check_op, parse
from grayscott.explore.recording import read_recording
from grayscott.explore.session import paint

SHAPE = (32, 40)
SETTINGS = {"Du": 0.16, "Dv": 0.08, "F": 0.035, "k": 0.06, "dt": 0.9, "stencil": "school",
            "border": "school"}


# -- messages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, reason", [
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    ('{"type": "params", "F": NaN}', "NaN is not a number"),
    ('{"type": "params", "F": Infinity}', "Infinity is not a number"),
    ('{"type": "params", "F": 1e999}', "F must be finite"),
    ('{"type": "params", "F": 1e300}', "F must be from 0 to 0.2"),
    ('{"type": "params", "k": -0.01}', "k must be from 0 to 0.2"),
    ('{"type": "params", "dt": true}', "dt must be a number"),
    ('{"type": "params", "F": "0.02"}', "F must be a number"),
    ('{"type": "params", "stencil": "mine"}', "stencil must be one of"),
    ('{"type": "params", "F": 0.02, "evil": 1}', "takes no key 'evil'"),
    ('{"type": "launch"}', "unknown message type"),
    ('{"type": "brush", "row": 32, "col": 0, "radius": 3, "value": 1}', "brush row must be"),
    ('{"type": "brush", "row": 0, "col": -1, "radius": 3, "value": 1}', "brush col must be"),
    ('{"type": "brush", "row": 1, "col": 1, "radius": 1000, "value": 1}', "brush radius"),
    ('{"type": "brush", "row": 1, "col": 1, "radius": 3, "value": 2}', "brush value"),
    ('{"type": "brush", "row": 1.5, "col": 1, "radius": 3, "value": 1}', "must be an integer"),
    ('{"type": "brush", "row": 1}', "brush needs col, radius, value"),
    ('{"type": "steps", "n": 0}', "steps per frame must be from 1"),
    ('{"type": "record", "on": 1}', "true or false"),
    ('{"type": "preset", "name": "nowhere"}', "preset must be one of"),
    ('{"type": "run", "seq": -1}', "seq must be from 0"),
])
def test_parse_refuses_bad_messages(text, reason):
    with pytest.raises(Refused, match=reason):
        parse(text, SHAPE)


def test_parse_refuses_size_and_binary():
    with pytest.raises(Refused, match="too long"):
        parse(json.dumps({"type": "run", "pad": "x" * MAX_MESSAGE}), SHAPE)
    with pytest.raises(Refused, match="only text"):
        parse(b'{"type": "run"}', SHAPE)


def test_parse_accepts_the_page_s_messages():
    assert parse('{"type": "params", "F": 0.03, "seq": 7}', SHAPE) == Command(
        "params", 7, {"F": 0.03})
    c = parse('{"type": "brush", "row": 31, "col": 39, "radius": 2, "value": 0.5}', SHAPE)
    assert c.values == {"op": "brush", "row": 31, "col": 39, "radius": 2, "value": 0.5}


def test_unstable_settings_are_refused_as_run_refuses_them():
    live = Live(Session(SHAPE, SETTINGS, backend="numpy"), running=False)
    ops: list = []
    with pytest.raises(Refused, match="dt=2 is unstable"):
        live._command(Command("params", 1, {"dt": 2.0}), ops)
    assert ops == []


def test_timeline_operations_are_checked():
    with pytest.raises(Refused, match="seven settings"):
        check_op({"op": "params", "F": 0.02}, SHAPE)
    with pytest.raises(Refused, match="unknown operation"):
        check_op({"op": "exec", "code": "x"}, SHAPE)
    with pytest.raises(Refused, match="initial must be one of"):
        check_op({"op": "reset", "initial": "box", "seed": 0}, SHAPE)


# -- the session ------------------------------------------------------------------------------


def test_brush_paints_a_disc_cut_at_the_edge():
    u, v = np.ones(SHAPE, np.float32), np.zeros(SHAPE, np.float32)
    paint(u, v, {"row": 0, "col": 5, "radius": 2, "value": 0.75})
    assert v[0, 5] == 0.75 and v[2, 5] == 0.75 and v[0, 7] == 0.75 and v[0, 8] == 0
    assert v[2, 7] == 0  # outside the disc
    assert np.count_nonzero(v) == 9  # the lower half of a radius-2 disc (13 cells) in the grid
    assert_bits_equal(u, np.where(v > 0, np.float32(0.25), np.float32(1)))


def test_operations_change_the_simulation():
    s = Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=4)
    same = Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=4)
    assert_bits_equal(s.advance(), same.advance())
    s.apply([{"op": "brush", "row": 3, "col": 3, "radius": 2, "value": 1.0},
             {"op": "params", **SETTINGS, "F": 0.02}, {"op": "steps", "n": 8}])
    assert s.settings["F"] == 0.02 and s.steps_per_frame == 8
    assert s.state[1][3, 3] == 1.0
    v = s.advance()
    assert s.steps == 12 and not np.array_equal(v, same.advance())
    s.apply([{"op": "reset", "initial": "school", "seed": 0}])
    assert_bits_equal(s.state[1], Session(SHAPE, SETTINGS, backend="numpy").state[1])


# -- recording and replay ---------------------------------------------------------------------


def _wait(condition, timeout=60.0):
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the session did not get there in time"
        time.sleep(0.005)


def _record_session(path, backend, steps=6):
    """A session driven as the page drives it: frames, then settings, brush, steps, preset,
    reset between frames, all recorded."""
    live = Live(Session(SHAPE, SETTINGS, backend=backend, steps_per_frame=steps), path,
                fps=240, running=False)
    live.session.backend.compile()  # numba: compiled (or loaded) before the clock of _wait
    live.start()

    def frame(*commands):
        before = live.frame_no
        for c in commands:
            live.submit(c)
        live.submit(Command("step"))
        _wait(lambda: live.frame_no == before + 1)

    try:
        frame()  # not recorded: the recording starts from the state after it
        frame(Command("record", 0, {"on": True}))
        frame()
        frame(Command("params", 0, {"F": 0.03}),
              Command("brush", 0, check_op({"op": "brush", "row": 5, "col": 6, "radius": 3,
                                            "value": 1.0}, SHAPE)))
        frame(Command("steps", 0, {"n": 5}), Command("params", 0, {"k": 0.062, "Du": 0.18}))
        frame(Command("preset", 0, {"name": "gamma"}))
        frame(Command("reset"), Command("brush", 0, {"op": "brush", "row": 31, "col": 39,
                                                     "radius": 4, "value": 0.5}))
        live.running = True
        live.submit(Command("run"))
        _wait(lambda: live.frame_no >= 12)
        live.submit(Command("record", 0, {"on": False}))
        _wait(lambda: live.recorder is None)
    finally:
        live.stop()
    return live


@pytest.mark.parametrize("backend", [backend_param("numpy"), backend_param("numba-blocked")])
def test_a_recorded_session_replays_bit_for_bit(tmp_path, backend):
    rec, again = tmp_path / "rec.h5", tmp_path / "again.h5"
    _record_session(rec, backend)
    r = read_recording(rec)
    kinds = [op["op"] for op in r["ops"]]
    assert kinds[:2] == ["params", "brush"] and {"steps", "reset"} <= set(kinds)
    assert r["frames"] >= 10
    result = replay(rec, again)
    assert (result.frames, result.differing) == (r["frames"], 0)
    n = r["frames"]
    with h5py.File(rec) as a, h5py.File(again) as b:
        assert b["matrix"].shape == (n, *SHAPE) and a["matrix"].shape[0] > n  # its room
        assert_bits_equal(a["matrix"][:n], b["matrix"][...])
        assert_bits_equal(a["step"][:n], b["step"][...])
        k = int(a["explore/timeline_count"][()])
        assert k == int(b["explore/timeline_count"][()]) == len(r["ops"])
        assert_bits_equal(a["explore/timeline_step"][:k], b["explore/timeline_step"][:k])
        assert a["status"][()] == b"completed" and b["status"][()] == b"completed"
        # the frames change with the operations: they are not one frame again and again
        assert len({bytes(x) for x in a["matrix"][:n]}) == n


def test_replay_finds_a_frame_that_differs(tmp_path):
    rec = tmp_path / "rec.h5"
    _record_session(rec, "numpy")
    with h5py.File(rec, "r+") as f:
        f["matrix"][4, 10, 10] += np.float32(1e-6)
    result = replay(rec, tmp_path / "again.h5")
    assert (result.differing, result.first_difference) == (1, 4)
    assert main(["replay", str(rec), "-o", str(tmp_path / "third.h5")]) == 1


def test_replay_refuses_a_damaged_timeline(tmp_path, capsys):
    rec = tmp_path / "rec.h5"
    _record_session(rec, "numpy")
    with h5py.File(rec, "r+") as f:
        good = f["explore/timeline_op"][1]
        f["explore/timeline_op"][1] = b'{"op":"brush","row":99,"col":0,"radius":1,"value":1}'
    assert main(["replay", str(rec), "-o", str(tmp_path / "again.h5")]) == 2
    assert "brush row must be from 0 to 31" in capsys.readouterr().err
    with h5py.File(rec, "r+") as f:
        f["explore/timeline_op"][1] = good
        f["step"][3] += 1  # a frame between two frame boundaries
    with pytest.raises(GrayScottError, match="damaged"):
        replay(rec, tmp_path / "third.h5")


def test_replay_refuses_what_is_not_a_recording(tmp_path, capsys):
    run = tmp_path / "run.h5"
    assert main(["run", "-r", "16", "-c", "16", "-n", "2", "-e", "4", "-b", "numpy", "-q",
                 "-o", str(run)]) == 0
    assert main(["replay", str(run), "-o", str(tmp_path / "again.h5")]) == 2
    err = capsys.readouterr().err
    assert "not a recording" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["-t", "3"], "dt=3 is unstable"),
    (["--host", "no such host.invalid"], "cannot listen on"),
    (["--preset", "nowhere"], "unknown preset"),
])
def test_explore_refuses_bad_settings_in_one_line(args, message, capsys):
    assert main(["explore", "-b", "numpy", "-r", "16", "-c", "16", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_explore_refuses_an_existing_record_file(tmp_path, capsys):
    out = tmp_path / "rec.h5"
    out.write_bytes(b"keep me")
    assert main(["explore", "-b", "numpy", "-r", "16", "-c", "16", "--record", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.read_bytes() == b"keep me"


def test_a_recording_replaces_a_file_only_once_it_has_a_frame(tmp_path):
    from grayscott.explore.recording import Recorder

    out = tmp_path / "rec.h5"
    out.write_bytes(b"old")
    session = Session(SHAPE, SETTINGS, backend="numpy")
    rec = Recorder.start(out, session, overwrite=True)
    with pytest.raises(GrayScottError, match="being written"):
        Recorder.start(out, session, overwrite=True)  # one writer at a time
    rec.close("stopped", session.state)  # no frame: the old file stays
    assert out.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == [
        "rec.h5"]
    rec = Recorder.start(out, session, overwrite=True)
    assert out.read_bytes() == b"old"
    rec.frame(session.advance(), session.steps, session.time)
    assert h5py.is_hdf5(out)
    rec.close("completed", session.state)
    assert read_recording(out)["frames"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rec.h5"]


def test_a_batch_of_operations_gives_the_bits_of_one_at_a_time():
    ops = [{"op": "params", **SETTINGS, "F": 0.02}, {"op": "brush", "row": 3, "col": 3,
                                                     "radius": 2, "value": 0.3},
           {"op": "reset", "initial": "noise", "seed": 4}, {"op": "params", **SETTINGS,
                                                            "k": 0.05},
           {"op": "brush", "row": 20, "col": 30, "radius": 5, "value": 0.7}]
    batch = Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=3)
    single = Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=3)
    batch.advance(), single.advance()
    batch.apply(ops)
    for op in ops:
        single.apply([op])
    assert batch.settings == single.settings and batch.settings["k"] == 0.05
    assert_bits_equal(batch.state, single.state)
    assert_bits_equal(batch.advance(), single.advance())


def _wait_serving(port: int) -> None:
    """Until the server answers (a 403: no token). The address is printed before the web
    server starts and takes over Ctrl-C; a signal sent between the two was not what this
    test is about."""
    import time
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_another_host_is_warned_about_and_ctrl_c_stops_the_server(tmp_path):
    import signal
    import subprocess
    import sys

    pytest.importorskip("uvicorn", reason="the explore extra is not installed")
    err = tmp_path / "err.txt"
    with err.open("w") as stderr:
        p = subprocess.Popen([sys.executable, "-m", "grayscott", "explore", "-b", "numpy", "-r",
                              "16", "-c", "16", "--host", "0.0.0.0"], stdout=subprocess.PIPE,
                             stderr=stderr, text=True)
        try:
            lines = [p.stdout.readline(), p.stdout.readline()]
            assert lines[1].startswith("grayscott explore: http://0.0.0.0:")
            assert "token=" in lines[1]
            _wait_serving(int(lines[1].split(":")[3].split("/")[0]))
            p.send_signal(signal.SIGINT)
            assert p.wait(timeout=60) == 128 + signal.SIGINT
        finally:
            p.kill() if p.poll() is None else None
            p.stdout.close()
    text = err.read_text()
    assert "warning: listening on 0.0.0.0, not only 127.0.0.1" in text
    assert "interrupted" in text and "Traceback" not in text


def test_a_full_recording_stops_and_keeps_what_it_counted(tmp_path):
    rec = tmp_path / "rec.h5"
    live = Live(Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=3), rec,
                fps=240, running=False, record_frames=3)
    live.start()
    try:
        live.submit(Command("record", 0, {"on": True}))
        live.submit(Command("run"))
        _wait(lambda: live.frame_no >= 6 and live.recorder is None)
    finally:
        live.stop()
    assert "the recording is full (3 frames" in live.notice
    assert read_recording(rec)["frames"] == 3
    assert replay(rec, tmp_path / "again.h5").differing == 0


def test_a_recording_that_fails_stops_and_the_simulation_goes_on(tmp_path, monkeypatch):
    from grayscott.explore.recording import Recorder

    def refused(self, *args):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Recorder, "frame", refused)
    live = Live(Session(SHAPE, SETTINGS, backend="numpy", steps_per_frame=3),
                tmp_path / "rec.h5", fps=240, running=False)
    live.start()
    try:
        live.submit(Command("record", 0, {"on": True}))
        live.submit(Command("run"))
        _wait(lambda: live.frame_no >= 5)
        assert live.recorder is None and "recording stopped" in live.notice
        assert live._thread.is_alive()
    finally:
        live.stop()
