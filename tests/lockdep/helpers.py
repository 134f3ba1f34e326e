"""Build small lock-sequence scenarios for the lockdep tests."""
from mmactors import Machine, parse_scenario
from mmactors.lockdep import lockdep_of


def scenario(locks, *programs, lockdep="", delays=None, step_ns=50, repeat=1):
    """``locks``: {name: kind or (kind, class)}; each program is a list of
    steps, or a dict with ``steps`` and ``context``; CPU i runs program i."""
    out = [f"[machine]\ncpus = {max(1, len(programs))}\n"]
    for name, k in locks.items():
        kind, cls = (k, name) if isinstance(k, str) else k
        out.append(f'[[lock]]\nname = "{name}"\nkind = "{kind}"\nclass = "{cls}"\n')
    for i, p in enumerate(programs):
        ctx = "process"
        if isinstance(p, dict):
            ctx, p = p.get("context", "process"), p["steps"]
        steps = list(p)
        if delays and delays[i]:
            steps = [f"delay {delays[i]}"] + steps
        body = ",\n  ".join(f'"{s}"' for s in steps)
        out.append(f'[[workload]]\nkind = "lock-sequence"\ncpus = [{i}]\ncontext = "{ctx}"\n'
                   f"step_ns = {step_ns}\nrepeat = {repeat}\nsteps = [\n  {body}\n]\n")
    if lockdep:
        out.append("[lockdep]\n" + lockdep + "\n")
    out.append("[run]\nduration_ns = 10_000_000\nseed = 1\n")
    return "\n".join(out)


def run(text, **kw):
    scn = parse_scenario(text, "rules.toml")
    m = Machine(scn, trace=False, **kw)
    res = m.run()
    return res, lockdep_of(m)


def reports(text, **kw):
    res, ld = run(text, **kw)
    return ld.reports if ld is not None else []
