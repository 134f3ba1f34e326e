"""The ``--trace`` output as trace clients read it.

Two readers check the same runs against the run's own JSON result:

* the JSON itself, read as Perfetto's JSON importer reads it
  (``src/trace_processor/importers/json/``): one thread track per ``tid``
  named by its ``thread_name`` event; ``X`` events become slices on that
  track and must nest (a slice that starts inside another and ends after
  it is dropped by the importer); each ``C`` event's args key names a
  counter track ``<name> <key>``;
* Perfetto's own trace processor (the ``perfetto`` package's
  ``TraceProcessor``), queried with SQL: the native ``trace_processor_shell``
  where one is at hand, else the same trace processor compiled to
  WebAssembly, as the Perfetto UI runs it, from PyPI alone
  (``tests/perfetto_wasm/``: the package downloads the native one on first
  use, and CI has no network).  Skipped, saying what is missing, only when
  neither can run.

What must hold, per run: one track per simulated CPU and kernel thread;
``wait <class>`` slices as many as the class's lock_stat contentions,
``hold <class>`` / ``read <class>`` slices as many as its write / read
acquisitions; counter tracks for every populated zone's free pages and every
pcp list's count, whose last values are the zones' and lists' state at the
end of the run.
"""
import json
from collections import Counter

import pytest

from mmactors import Machine, load_scenario
from mmactors.scenario import find_scenario

CASES = {
    # physical memory: counters; vm.stat_interval short enough that the
    # vmstat_shepherd kernel thread and its kworkers run
    "pcp-batch": [("run.duration_ns", 300_000), ("sysctl.vm.stat_interval", 0.0001)],
    # rw locks (mmap_lock read and write, per-VMA locks), nested locks
    "will-it-scale/page_fault2": [("machine.cpus", 4), ("run.duration_ns", 200_000)],
    # one contended spinlock, many CPUs
    "lock-scaling": [("machine.cpus", 8), ("run.duration_ns", 500_000)],
}


@pytest.fixture(scope="module", params=sorted(CASES))
def run(request, tmp_path_factory):
    name = request.param
    m = Machine(load_scenario(find_scenario(name), CASES[name]), trace=True)
    res = m.run()
    assert res.error is None
    path = tmp_path_factory.mktemp("trace") / "trace.json"
    m.engine.trace.write(str(path))
    return name, m, res.to_json(), path


def expected(m, result):
    """What a reader must find, from the machine and the JSON result."""
    actors = sorted(a.name for a in m.engine.actors)
    slices = Counter()
    for row, st in result["locks"].items():
        cls, mode = (row[:-2], row[-1]) if row[-2:] in ("-W", "-R") else (row, "W")
        slices[f"wait {cls}"] += st["contentions"]
        slices[("read " if mode == "R" else "hold ") + cls] += st["acquisitions"]
    slices = +slices                                   # drop zero counts
    final = {}
    for z in result.get("zones", []):
        if z["populated"]:
            g = f"node{z['node']} {z['zone']}"
            final[f"{g} nr_free_pages"] = sum(n << o for o, n in enumerate(z["free_area"]))
            for p in z["pagesets"]:
                final[f"{g} pcp cpu{p['cpu']} count"] = p["count"]
    return actors, slices, final


def test_json_reads_as_perfettos_importer_reads_it(run):
    name, m, result, path = run
    doc = json.loads(path.read_text())
    assert doc["displayTimeUnit"] == "ns" and list(doc) == ["displayTimeUnit", "traceEvents"]
    events = doc["traceEvents"]
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M"}
    actors, slices, final = expected(m, result)
    assert sorted(names.values()) == actors                        # one track per actor
    assert {e["tid"] for e in events} <= set(names)
    got = Counter(e["name"] for e in events if e["ph"] == "X")
    assert got == slices, (name, got - slices, slices - got)
    # slices nest on every track, in file order (ts, then longest first)
    ts = [float(e["ts"]) for e in events if e["ph"] != "M"]
    assert ts == sorted(ts)
    stacks = {}
    for e in events:
        if e["ph"] != "X":
            continue
        start, end = round(e["ts"] * 1000), round((e["ts"] + e["dur"]) * 1000)
        st = stacks.setdefault(e["tid"], [])
        while st and st[-1] <= start:
            st.pop()
        assert not st or end <= st[-1], (name, e, "overlaps its enclosing slice")
        st.append(end)
    # counters: track "<name> <key>", last value = the state at the end
    last = {}
    for e in events:
        if e["ph"] == "C":
            (key, value), = e["args"].items()
            last[f"{e['name']} {key}"] = value
    assert last == final, name
    if name == "pcp-batch":
        assert "vmstat_shepherd" in actors and any(a.startswith("kworker/") for a in actors)
        assert any(t.endswith("nr_free_pages") for t in last)
        zones = sum(z["populated"] for z in result["zones"])
        assert zones == 2 and sum(t.endswith(" count") for t in last) == m.ncpus * zones


@pytest.fixture(scope="module")
def load():
    from perfetto_wasm.wasm import Unavailable, trace_processor

    def _load(path):
        try:
            return trace_processor(str(path))
        except Unavailable as e:
            pytest.skip(f"Perfetto's trace processor cannot run here: {e}")
    return _load


def test_perfettos_trace_processor_loads_and_queries_it(run, load):
    name, m, result, path = run
    actors, slices, final = expected(m, result)
    with load(path) as tp:
        def q(sql):
            return list(tp.query(sql))
        bad = q("select name, idx, value from stats where value > 0 "
                "and severity in ('error', 'data_loss')")
        assert not bad, [(r.name, r.idx, r.value) for r in bad]
        tracks = q("select thread.name as name, count(thread_track.id) as n from thread "
                   "join thread_track using (utid) group by thread.utid")
        assert sorted(r.name for r in tracks) == actors
        assert all(r.n == 1 for r in tracks)
        got = Counter({r.name: r.n for r in q("select name, count(*) as n from slice "
                                              "where name glob 'wait *' or name glob 'hold *' "
                                              "or name glob 'read *' group by name")})
        assert got == slices, (name, got - slices, slices - got)
        cats = {r.category for r in q("select distinct category from slice where dur > 0")}
        assert cats <= {"lock-wait", "lock-hold"}
        counters = {r.name: r.value for r in q(
            "select t.name as name, c.value as value from counter c join counter_track t "
            "on c.track_id = t.id where c.ts = (select max(ts) from counter c2 "
            "where c2.track_id = c.track_id)")}
        assert counters == final, name
