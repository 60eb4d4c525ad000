"""Property tests whose truth is known by construction: conditions built from values present in (or
absent from) a generated JSON event, and &&/|| combinations of them."""

import json
import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trailwatch.filterpattern import PatternSet, compile_pattern

KEYS = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=1, max_size=6)
LEAVES = st.one_of(st.text(max_size=8), st.integers(-10**9, 10**9), st.booleans(), st.none())
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(KEYS, inner, max_size=3)), max_leaves=10)
EVENTS = st.dictionaries(KEYS, VALUES, min_size=1, max_size=5)
SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def selector(path) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") + '"'


def glob(*pieces: str) -> str:
    """A quoted value whose pieces are literal and joined by '*' wildcards."""
    return '"' + "*".join(p.replace("\\", "\\\\").replace('"', '\\"').replace("*", "\\*") for p in pieces) + '"'


def nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from nodes(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from nodes(v, path + (i,))


def atoms_for(event):
    """(condition text, truth) pairs, true or false by construction."""
    out = []
    for path, v in nodes(event):
        if not path:
            continue
        sel = selector(path)
        if isinstance(path[0], int):
            continue
        out.append((f"{sel} NOT EXISTS", False))
        if isinstance(v, bool):
            out += [(f"{sel} IS TRUE", v), (f"{sel} IS FALSE", not v), (f"{sel} IS NULL", False), (f"{sel} = *", False)]
        elif v is None:
            out += [(f"{sel} IS NULL", True), (f"{sel} = *", False), (f"{sel} != x", False)]
        elif isinstance(v, str):
            other = v + "x"
            out += [(f"{sel} = {quote(v)}", True), (f"{sel} != {quote(v)}", False),
                    (f"{sel} = {quote(other)}", False), (f"{sel} != {quote(other)}", True),
                    (f"{sel} = *", True), (f'{sel} = "*"', True), (f"{sel} IS NULL", False),
                    (f"{sel} = {glob(v[:2], '')}", True), (f"{sel} = {glob('', v[-2:])}", True),
                    (f"{sel} = {glob('', v[1:3], '')}", True), (f"{sel} = {glob(v[:1], v[1:])}", True),
                    (f"{sel} = {glob(other, '')}", False), (f"{sel} != {glob(v[:2], '')}", False)]
        elif isinstance(v, int):
            out += [(f"{sel} = {v}", True), (f"{sel} = {v + 1}", False), (f"{sel} != {v + 1}", True),
                    (f"{sel} != {v}", False), (f"{sel} > {v - 1}", True), (f"{sel} > {v}", False),
                    (f"{sel} >= {v}", True), (f"{sel} < {v}", False), (f"{sel} <= {v}", True),
                    (f"{sel} < {v + 1}", True), (f'{sel} = "{v}"', True), (f"{sel} = *", True),
                    (f"{sel} = {v}.0", True), (f"{sel} = {v}e0", True)]
        else:  # object or array: never a value node
            out += [(f"{sel} = *", False), (f"{sel} != x", False), (f"{sel} > 0", False), (f"{sel} IS NULL", False)]
        if isinstance(v, dict):
            missing = "zz" + "".join(sorted(v))[:5]
            out += [(f"{sel}.{missing} NOT EXISTS", True), (f"{sel}.{missing} = *", False),
                    (f"{sel}.{missing} != x", False)]
        if isinstance(v, list):
            out += [(f"{sel}[{len(v)}] NOT EXISTS", True), (f"{sel}[{len(v)}] != x", False)]
    missing = "zz" + "".join(sorted(event))[:5]
    out += [(f"$.{missing} NOT EXISTS", True), (f"$.{missing} = *", False), (f"$.{missing} != x", False),
            (f"$.{missing}.a.b NOT EXISTS", True)]
    return out


@st.composite
def event_and_atoms(draw, count=(1, 1)):
    event = draw(EVENTS)
    atoms = atoms_for(event)
    chosen = draw(st.lists(st.sampled_from(atoms), min_size=count[0], max_size=count[1]))
    return event, chosen


def assert_match(text, event, expected):
    p = compile_pattern(text)
    assert p.matches(event) is expected, text
    assert p.matches(json.dumps(event)) is expected, text


@SETTINGS
@given(event_and_atoms(count=(1, 6)))
def test_single_conditions(case):
    event, atoms = case
    for text, truth in atoms:
        assert_match("{ " + text + " }", event, truth)


@SETTINGS
@given(event_and_atoms(count=(2, 7)), st.data())
def test_flat_and_or_follow_precedence(case, data):
    event, atoms = case
    ops = data.draw(st.lists(st.sampled_from(["&&", "||"]), min_size=len(atoms) - 1, max_size=len(atoms) - 1))
    text = atoms[0][0] + "".join(f" {op} {a}" for op, (a, _) in zip(ops, atoms[1:]))
    groups, current = [], [atoms[0][1]]  # && binds tighter than ||
    for op, (_, truth) in zip(ops, atoms[1:]):
        if op == "||":
            groups.append(current)
            current = []
        current.append(truth)
    groups.append(current)
    assert_match("{ " + text + " }", event, any(all(g) for g in groups))


@st.composite
def trees(draw):
    event = draw(EVENTS)
    atoms = atoms_for(event)
    leaf = st.sampled_from(atoms)

    def combine(children):
        return st.tuples(st.sampled_from(["&&", "||"]), st.lists(children, min_size=2, max_size=3))

    tree = draw(st.recursive(leaf, combine, max_leaves=10))
    return event, tree


def render(tree):
    if isinstance(tree[1], bool):
        return tree
    op, children = tree
    rendered = [render(c) for c in children]
    text = f" {op} ".join(f"({t})" for t, _ in rendered)
    truths = [v for _, v in rendered]
    return text, (all(truths) if op == "&&" else any(truths))


@SETTINGS
@given(trees())
def test_nested_parentheses(case):
    event, tree = case
    text, truth = render(tree)
    assert_match("{ " + text + " }", event, truth)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_and_atoms(count=(1, 6)))
def test_pattern_set_agrees_with_truth(case):
    event, atoms = case
    patterns = {f"p{i}": "{ " + text + " }" for i, (text, _) in enumerate(atoms)}
    expected = [f"p{i}" for i, (_, truth) in enumerate(atoms) if truth]
    assert PatternSet(patterns).matching(event) == expected
    assert PatternSet(patterns).matching(json.dumps(event)) == expected


@SETTINGS
@given(st.lists(st.text(alphabet=string.ascii_letters + string.digits + ":/._-", min_size=1, max_size=6),
                min_size=1, max_size=6), st.data())
def test_space_delimited_built_from_the_line(tokens, data):
    line = " ".join(tokens)
    names = [f"f{i}" for i in range(len(tokens))]
    i = data.draw(st.integers(0, len(tokens) - 1))
    fields = list(names)
    fields[i] = f'{names[i]} = {quote(tokens[i])}'
    assert compile_pattern("[" + ", ".join(fields) + "]").matches(line)
    fields[i] = f'{names[i]} != {quote(tokens[i])}'
    assert not compile_pattern("[" + ", ".join(fields) + "]").matches(line)
    assert compile_pattern("[" + ", ".join(names[:i] + ["..."]) + "]").matches(line)
    assert compile_pattern("[..., " + ", ".join(names[i:]) + "]").matches(line)
    assert not compile_pattern("[" + ", ".join(names + ["extra"]) + "]").matches(line)
    extracted = compile_pattern("[" + ", ".join(names) + "]").extract(line)
    assert extracted == {f"${n}": t for n, t in zip(names, tokens)}


@SETTINGS
@given(st.text(alphabet=string.ascii_letters + string.digits + " .:-", max_size=30), st.data())
def test_terms_built_from_the_line(line, data):
    words = line.split()
    if not words:
        return
    present = data.draw(st.sampled_from(words))
    absent = line + "#"  # longer than the line: cannot be a substring
    assert compile_pattern(quote(line)).matches(line)
    assert compile_pattern(quote(present)).matches(line)
    if present[0] not in "-?{[%" and "-" not in present:
        assert compile_pattern(present).matches(line)  # bare term
    if present[0] not in "-?{[%" and "-" in present and not present.endswith("-") and "--" not in present:
        # an unquoted term reads '-' as AWS's exclusion operator: "a-b" is "a -b"
        head, *rest = present.split("-")
        spelled = " ".join([quote(head)] + [f"-{quote(r)}" for r in rest])
        for text in (line, head, f"{head} {' '.join(rest)}"):
            assert compile_pattern(present).matches(text) is compile_pattern(spelled).matches(text)
        assert not compile_pattern(present).matches(line)  # the line holds the term, hence its excluded parts
    assert not compile_pattern(f"{quote(present)} {quote(absent)}").matches(line)
    assert compile_pattern(f"?{quote(absent)} ?{quote(present)}").matches(line)
    assert not compile_pattern(f"{quote(present)} -{quote(present)}").matches(line)
