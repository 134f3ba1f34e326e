"""Litmus text for Hypothesis-generated programs (shared by the property tests)."""


def render(nlocs: int, threads: list, templates: list) -> str:
    """A C litmus test over locations x, y, z (the first ``nlocs``) and a
    spinlock s.  ``threads`` are lists of (op index, location, value, cmpxchg
    expected value, suffix); ``templates[op]`` is the C text, with ``{r}`` where
    the op reads into a register.  Every register and location is shown."""
    names = ["x", "y", "z"][:nlocs]
    params = ", ".join(f"int *{n}" for n in names) + ", spinlock_t *s"
    lines = ["C generated", "{ spinlock_t s; }"]
    shown = []
    for tid, ops in enumerate(threads):
        body, nreg = [], 0
        for which, loc, c, o, s in ops:
            template = templates[which]
            reg = f"r{nreg}"
            if "{r}" in template:
                body.append(f"\tint {reg};")
                shown.append(f"{tid}:{reg}")
                nreg += 1
            body.append("\t" + template.format(x=names[loc % nlocs], c=c, o=o, s=s, r=reg))
        lines.append(f"P{tid}({params})\n{{\n" + "\n".join(body) + "\n}")
    shown.extend(names)
    lines.append("locations [" + "; ".join(shown) + "]")
    lines.append("exists (true)")
    return "\n".join(lines) + "\n"
