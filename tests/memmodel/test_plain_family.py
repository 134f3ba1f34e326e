"""A family of MP, LB and SB tests mixing marked and plain accesses, with
release/acquire, smp_rmb()/smp_wmb()/smp_mb(), address, data and control
dependencies, whose verdicts are derived here from linux-kernel.cat's
definitions (../shared/litmus/model/linux-kernel.cat), independently of the
checker's code.

Notation: in each shape P0 makes accesses A then B, P1 makes C then D; O0
and O1 are what lies between them.  The cat clauses used:

* hb = [Marked] ; (ppo | rfe | ((prop \\ id) & int)) ; [Marked] -- relates
  marked accesses only, so a cycle through a plain access is never an hb
  cycle;
* ppo's R->W part: rwdep = (dep | ctrl) ; [W] (address, data and control
  dependencies), fence (smp_mb(), acq-po, po-rel); R->R: addr, rmb, mb,
  acq-po; W->W: wmb, mb, po-rel;
* w-pre-bounded = [Marked] ; (addr | fence)? -- a plain write is ordered
  after a marked access by an address dependency or a fence only: *not* by
  a data or control dependency (so plain writes reached only through
  control dependencies are unordered);
* r-pre-bounded = [Marked] ; (addr | nonrw-fence | ([R4rmb] ;
  fencerel(Rmb) ; [~Noreturn]))?, w-post-bounded = fence? ; [Marked];
* plain-coherence: empty (wr-incoh | rw-incoh | ww-incoh), with
  wr-incoh = pre-race & rf & rw-xbstar^-1 and rw-incoh = pre-race & fr &
  wr-vis^-1;
* pb = prop ; strong-fence ; hb* ; [Marked] (SB needs a strong fence on both
  sides, and all four accesses marked for pb).

Each rule below says which of these closes the cycle.  When the outcome is
allowed and the cycle goes through a plain access, the outcome execution
itself has a conflicting pair that no vis/xbstar relation orders (that is
what let the cycle through), so ``data-race`` is flagged; a test with no
plain access never flags it.
"""

from __future__ import annotations

import itertools

import pytest

from mmactors.memmodel import check, parse_litmus

# ------------------------------------------------------------------ MP
# P0: A = write x (data), O0, B = write y (flag); P1: C = read y, O1, D = read x.
# Outcome: C sees the flag, D misses the data.

MP_O0 = ["none", "wmb", "mb", "release"]
MP_O1 = ["none", "rmb", "mb", "acquire", "addr", "ctrl"]


def mp_text(o0, o1, a_plain, d_plain) -> str:
    a = "*x = 1;" if a_plain else "WRITE_ONCE(*x, 1);"
    fence0 = {"wmb": "smp_wmb();", "mb": "smp_mb();"}.get(o0, "")
    b = "smp_store_release(y, 1);" if o0 == "release" else "WRITE_ONCE(*y, 1);"
    c = "r0 = smp_load_acquire(y);" if o1 == "acquire" else "r0 = READ_ONCE(*y);"
    fence1 = {"rmb": "smp_rmb();", "mb": "smp_mb();"}.get(o1, "")
    src = "*(x + (r0 - r0))" if o1 == "addr" else "*x"
    d = f"r1 = {src};" if d_plain else f"r1 = READ_ONCE({src});"
    if o1 == "ctrl":
        d = f"if (r0) {d}"
    return f"""C MP-{o0}-{o1}-{int(a_plain)}{int(d_plain)}
{{}}
P0(int *x, int *y) {{ {a} {fence0} {b} }}
P1(int *x, int *y) {{ int r0; int r1; {c} {fence1} {d} }}
exists (1:r0=1 /\\ 1:r1=0)
"""


def mp_expected(o0, o1, a_plain, d_plain) -> str:
    # Marked data: prop(D, C) through fre ; cumul-fence (wmb, mb or po-rel
    # after A) ; rfe, and (prop \ id) & int closes hb with ppo(C, D) (rmb,
    # mb, acq-po or addr; a control dependency to a read is not ppo).
    # Plain data: rw-incoh on fr(D, A) needs wr-vis(A, D) =
    # w-post-bounded(A, B) (the same fences) ; vis(B, C) (rfe) ;
    # r-pre-bounded(C, D) (addr, nonrw-fence or rmb; again not ctrl).
    # Both derivations ask the same of O0 and O1.
    writer = o0 in ("wmb", "mb", "release")
    reader = o1 in ("rmb", "mb", "acquire", "addr")
    return "Never" if writer and reader else "Sometimes"


# ------------------------------------------------------------------ LB
# P0: A = read x, O0, B = write y; P1: C = read y, O1, D = write x.
# Outcome: both reads see the other CPU's write.

LB_O = ["none", "rmb", "mb", "acquire", "release", "addr", "data", "ctrl", "rmb-ctrl"]


def lb_side(o, src, dst, write_plain, reg) -> str:
    read = f"{reg} = smp_load_acquire({src});" if o == "acquire" else \
        f"{reg} = READ_ONCE(*{src});"
    fence = {"rmb": "smp_rmb();", "mb": "smp_mb();", "rmb-ctrl": "smp_rmb();"}.get(o, "")
    target = f"*({dst} + ({reg} - {reg}))" if o == "addr" else f"*{dst}"
    value = f"{reg} - {reg} + 1" if o == "data" else "1"
    if o == "release":
        write = f"smp_store_release({dst}, 1);"
    elif write_plain:
        write = f"{target} = {value};"
    else:
        write = f"WRITE_ONCE({target}, {value});"
    if o in ("ctrl", "rmb-ctrl"):
        write = f"if ({reg}) {write}"
    return f"{read} {fence} {write}"


def lb_text(o0, o1, b_plain, d_plain) -> str:
    return f"""C LB-{o0}-{o1}-{int(b_plain)}{int(d_plain)}
{{}}
P0(int *x, int *y) {{ int r0; {lb_side(o0, "x", "y", b_plain, "r0")} }}
P1(int *x, int *y) {{ int r0; {lb_side(o1, "y", "x", d_plain, "r0")} }}
exists (0:r0=1 /\\ 1:r0=1)
"""


def lb_orders(o) -> bool:
    """ppo from the read to a marked write: rwdep (addr, data, ctrl) or a
    fence (mb, acq-po, po-rel); smp_rmb() orders reads only."""
    return o in ("mb", "acquire", "release", "addr", "data", "ctrl", "rmb-ctrl")


def lb_bounds(o) -> bool:
    """w-pre-bounded from the read to a plain write: addr or a fence (mb,
    acq-po); not data, not ctrl (the cat's point), not rmb."""
    return o in ("mb", "acquire", "addr")


def lb_expected(o0, o1, b_plain, d_plain) -> str:
    if o0 == o1 == "data":
        # Each value written is computed from the value read on the other
        # side: in the cycle both values come out of thin air, and herd7's
        # (like the checker's) equation solver has no execution for it.
        return "Never"
    if not b_plain and not d_plain:
        # hb cycle A -ppo-> B -rfe-> C -ppo-> D -rfe-> A.
        return "Never" if lb_orders(o0) and lb_orders(o1) else "Sometimes"
    if b_plain and d_plain:
        # No marked path from one read to the other: nothing is ordered.
        return "Sometimes"
    # One plain write, say B: wr-incoh on rf(B, C) needs rw-xbstar(C, B) =
    # r-post-bounded(C) ; xbstar(C, A) (hb: ppo(C, D) to the marked D, then
    # rfe(D, A)) ; w-pre-bounded(A, B).
    plain_side, marked_side = (o0, o1) if b_plain else (o1, o0)
    return "Never" if lb_bounds(plain_side) and lb_orders(marked_side) else "Sometimes"


# ------------------------------------------------------------------ SB
# P0: A = write x, O0, B = read y; P1: C = write y, O1, D = read x.
# Outcome: both reads miss the other CPU's write.

SB_O = ["none", "wmb", "rmb", "mb"]


def sb_text(o0, o1, plain) -> str:
    a_p, b_p, c_p, d_p = plain

    def side(o, w, r, wp, rp):
        write = f"*{w} = 1;" if wp else f"WRITE_ONCE(*{w}, 1);"
        fence = {"wmb": "smp_wmb();", "rmb": "smp_rmb();", "mb": "smp_mb();"}.get(o, "")
        read = f"r0 = *{r};" if rp else f"r0 = READ_ONCE(*{r});"
        return f"int r0; {write} {fence} {read}"
    name = "".join(str(int(p)) for p in plain)
    return f"""C SB-{o0}-{o1}-{name}
{{}}
P0(int *x, int *y) {{ {side(o0, "x", "y", a_p, b_p)} }}
P1(int *x, int *y) {{ {side(o1, "y", "x", c_p, d_p)} }}
exists (0:r0=0 /\\ 1:r0=0)
"""


def sb_expected(o0, o1, plain) -> str:
    a_p, b_p, c_p, d_p = plain
    if not (o0 == "mb" and o1 == "mb"):
        # W->R needs a strong fence: only smp_mb() gives pb or wr-vis here.
        return "Sometimes"
    if not any(plain):
        return "Never"              # pb(B, D) ; pb(D, B): prop (fre) ; strong-fence
    # rw-incoh on fr(D, A) (A or D plain) needs wr-vis(A, D) =
    # strong-fence(A, B) ; xbstar(B, D) (pb(B, D): B, C marked for prop,
    # D marked at pb's end) ; r-pre-bounded(D, D) (D marked): B, C, D
    # marked.  Symmetrically fr(B, C) needs D, A, B marked.
    d_a = (a_p or d_p) and not (b_p or c_p or d_p)
    b_c = (b_p or c_p) and not (d_p or a_p or b_p)
    return "Never" if d_a or b_c else "Sometimes"


# ------------------------------------------------------------------ the tests

CASES = []
for o0, o1, a_p, d_p in itertools.product(MP_O0, MP_O1, (False, True), (False, True)):
    CASES.append((mp_text(o0, o1, a_p, d_p), mp_expected(o0, o1, a_p, d_p), a_p or d_p))
for o0, o1, b_p, d_p in itertools.product(LB_O, LB_O, (False, True), (False, True)):
    if (o0 == "release" and b_p) or (o1 == "release" and d_p):
        continue                    # a release store is marked
    CASES.append((lb_text(o0, o1, b_p, d_p), lb_expected(o0, o1, b_p, d_p), b_p or d_p))
for o0, o1 in itertools.product(SB_O, SB_O):
    for plain in itertools.product((False, True), repeat=4):
        CASES.append((sb_text(o0, o1, plain), sb_expected(o0, o1, plain), any(plain)))


def test_family_size():
    assert len(CASES) > 500


@pytest.mark.parametrize("shape", ["MP", "LB", "SB"])
def test_plain_and_marked_family(shape):
    wrong = []
    for text, expected, has_plain in CASES:
        if not text.startswith(f"C {shape}-"):
            continue
        r = check(parse_litmus(text), "lkmm")
        race = "data-race" in r.flags
        want_race = has_plain if expected == "Sometimes" else None
        if r.observation != expected or (want_race is not None and race != want_race) \
                or (not has_plain and race):
            wrong.append(f"{text.splitlines()[0][2:]}: expected {expected}"
                         f"{' with data-race' if want_race else ''}, got {r.observation} "
                         f"{r.flags}")
    assert not wrong, "\n".join(wrong)


def test_issue_case_plain_write_after_rmb_and_ctrl():
    """The LB shape of the issue: a plain write reached only by a control
    dependency after smp_rmb() on one side, release/acquire on the other:
    allowed by this cat, with a data race."""
    r = check(parse_litmus(lb_text("rmb-ctrl", "acquire", True, False)), "lkmm")
    assert (r.observation, r.flags) == ("Sometimes", ["data-race"])
    r = check(parse_litmus(lb_text("addr", "acquire", True, False)), "lkmm")
    assert r.observation == "Never"       # an address dependency bounds it
