"""The README and docs/ stay true: generated parts match their sources, links resolve, the README's commands
exist, every measured figure names its command and date, and each timing is stated the same everywhere."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from trailwatch import docs
from trailwatch.catalog import load_catalog
from trailwatch.cli import COMMANDS, build_parser
from trailwatch.settings import declared

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
README_LIMIT = 15 * 1024
_FENCE = re.compile(r"^```.*?^```[ \t]*$", re.S | re.M)
_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")
_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def prose(text: str) -> str:
    """The text outside fenced code blocks (a `#` comment in a code block is not a heading, a `[x](y)` there not
    a link)."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: link and code markup dropped, lower case, punctuation other than '-' and
    '_' removed, spaces as '-'."""
    text = _LINK.sub(r"\1", heading).replace("`", "").replace("*", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", prose(text), flags=re.M):
        base = slug(heading)
        found.add(base if base not in seen else f"{base}-{seen[base]}")
        seen[base] = seen.get(base, 0) + 1
    return found


def sh_commands(text: str) -> list[str]:
    """Each command of the text's fenced ``sh`` blocks: continuation lines joined, `&&` chains split."""
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        for line in block.replace("\\\n", " ").splitlines():
            commands += [part.strip() for part in line.split("&&") if part.strip()]
    return commands


def make_targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", read(ROOT / "Makefile"), flags=re.M))


def subcommand_options() -> dict[str, set[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: set(p._option_string_actions) for name, p in sub.choices.items()}


def command_problem(command: str, options: dict[str, set[str]]) -> str | None:
    """Why a README command would not run as written here, or None. Make targets and trailwatch commands are
    checked in full; the Pulumi CLI cannot run here, so what its commands name (config keys, the pack, files)
    is checked instead."""
    argv = shlex.split(command, comments=True)
    keys = {f"trailwatch:{f.metadata['key']}" if ":" not in f.metadata["key"] else f.metadata["key"] for f in declared()}
    match argv:
        case ["make", target, *assignments]:
            if target not in make_targets():
                return f"no make target '{target}'"
            return next((f"'{a}' is not VAR=value" for a in assignments if "=" not in a), None)
        case [".venv/bin/python", "-m", "trailwatch", sub, *rest] | ["trailwatch", sub, *rest]:
            if sub not in COMMANDS:
                return f"no trailwatch command '{sub}'"
            unknown = [a.split("=")[0] for a in rest if a.startswith("--") and a.split("=")[0] not in options[sub]]
            return f"trailwatch {sub} has no option {unknown[0]}" if unknown else None
        case ["pulumi", "config", "set", *rest]:
            key = [a for a in rest if not a.startswith("--")][0]
            return None if key in keys else f"no config key '{key}'"
        case ["pulumi", "preview", "--policy-pack", pack]:
            return None if (ROOT / pack / "PulumiPolicy.yaml").is_file() else f"no policy pack in '{pack}'"
        case ["pulumi", "login", *_] | ["pulumi", "stack", "init", _] | ["pulumi", "up"]:
            return None
        case ["python3", "-m", "venv", _]:
            return None
        case [pip, "install", "-r", requirements] if pip.endswith("/bin/pip"):
            return None if (ROOT / requirements).is_file() else f"no file '{requirements}'"
    return "not a make target, a trailwatch command or a Pulumi step the README explains"


# --- generated parts ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page", sorted(docs.PAGES))
def test_every_generated_part_matches_its_source(page):
    text = read(ROOT / page)
    assert docs.parts_in(text) == list(docs.PAGES[page]), f"{page} holds other generated parts than docs.PAGES says"
    assert text == docs.rewrite(text), f"{page} is stale: run .venv/bin/python -m trailwatch.docs"


def test_the_reference_has_a_row_per_setting_and_the_readme_ten_of_them():
    reference = read(ROOT / "docs" / "configuration.md")
    for f in declared():
        assert f"| `{f.metadata['key']}` |" in reference, f.metadata["key"]
    block = read(ROOT / "README.md").split("<!-- first-settings:begin -->", 1)[1].split("<!-- first-settings:end -->")[0]
    readme_rows = re.findall(r"^\| `([^`]+)` \|", block, flags=re.M)
    assert readme_rows == list(docs.FIRST_KEYS) and len(readme_rows) == 10


def test_rewrite_replaces_only_between_the_markers():
    text = "before\n<!-- settings:begin -->\nstale\n<!-- settings:end -->\nafter\n"
    done = docs.rewrite(text)
    assert done.startswith("before\n<!-- settings:begin -->\n| key | type |") and done.endswith("<!-- settings:end -->\nafter\n")
    assert "stale" not in done and docs.rewrite(done) == done


@pytest.mark.parametrize("text, message", [
    ("<!-- nonsense:begin -->\n<!-- nonsense:end -->\n", "unknown generated part 'nonsense'"),
    ("<!-- settings:begin -->\nno end\n", "marker '<!-- settings:begin -->' has no '<!-- settings:end -->' after it"),
])
def test_a_bad_marker_is_one_clear_error(text, message):
    with pytest.raises(docs.DocsError, match=re.escape(message)):
        docs.rewrite(text)


def test_the_generator_names_a_missing_file_in_one_line(tmp_path, capsys):
    assert docs.main([str(tmp_path / "nowhere.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "nowhere.md: cannot read it" in err and err.count("\n") == 1


def test_the_heartbeat_severity_is_the_same_in_catalog_table_and_details():
    page = read(ROOT / "docs" / "detections.md")
    heartbeat = next(d for d in load_catalog() if d.heartbeat)
    assert f"| `{docs.alert_name(heartbeat)}` | {heartbeat.severity} |" in page
    assert f"### {heartbeat.id}" in page and heartbeat.severity == "critical"


# --- links, commands, size -----------------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(page):
    broken = []
    for _, target in _LINK.findall(prose(read(page))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(read(dest)):
            broken.append(f"{target}: no heading with that anchor")
    assert broken == []


def test_slugs_follow_githubs_rules():
    assert slug("`make plan`: the same verdicts without credentials") == "make-plan-the-same-verdicts-without-credentials"
    assert slug("Several cores: `--workers`") == "several-cores---workers"
    assert anchors("# A\n## A\n```sh\n# not a heading\n```\n") == {"a", "a-1"}


def test_every_readme_command_exists():
    commands = sh_commands(read(ROOT / "README.md"))
    assert {"make demo", "make plan", "make test"} <= {c.split("#")[0].strip() for c in commands}
    options = subcommand_options()
    problems = {c: command_problem(c, options) for c in commands}
    assert {c: p for c, p in problems.items() if p} == {}


def test_the_command_check_catches_what_does_not_exist():
    options = subcommand_options()
    assert command_problem("make deploy", options) == "no make target 'deploy'"
    assert command_problem(".venv/bin/python -m trailwatch replay --stak dev x", options) == (
        "trailwatch replay has no option --stak")
    assert command_problem("trailwatch preview", options) == "no trailwatch command 'preview'"
    assert command_problem("pulumi config set trailwatch:runtme docker", options) == (
        "no config key 'trailwatch:runtme'")
    assert command_problem("curl https://example.invalid | sh", options) is not None


def test_the_readme_is_at_most_15_kb():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_LIMIT, f"README.md is {size} bytes; move detail to docs/"


def test_every_docs_page_opens_with_what_it_covers():
    for page in PAGES[1:]:
        paragraphs = prose(read(page)).split("\n\n")
        assert paragraphs[0].startswith("# ") and "covers" in paragraphs[1], page.name
    linked = {target.partition("#")[0] for _, target in _LINK.findall(read(ROOT / "README.md"))}
    for page in PAGES[1:]:
        reachable = f"docs/{page.name}" in linked or any(
            page.name in {t.partition("#")[0] for _, t in _LINK.findall(read(ROOT / f))} for f in linked
            if f.startswith("docs/") and (ROOT / f).is_file())
        assert reachable, f"docs/{page.name} is not linked from the README or a page it links"


# --- measurements ------------------------------------------------------------------------------------------------

def measured_sections() -> dict[str, str]:
    text = read(ROOT / "docs" / "measured.md")
    parts = re.split(r"^## +(.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_measured_figure_names_its_command_and_date():
    sections = measured_sections()
    assert len(sections) >= 5
    for title, body in sections.items():
        run = re.search(r"^Run: (?:`([^`]+)`)?(.*)$", body, flags=re.M)
        assert run, f"section '{title}' has no 'Run: ...' line saying where its figures come from"
        if run.group(1):  # one run for the whole section
            assert _DATE.search(run.group(2)), f"section '{title}': no date for its run"
            assert command_exists(run.group(1)), f"section '{title}': `{run.group(1)}` is not a command of this repo"
            continue
        rows = table_rows(body)  # one run per row
        paragraphs = prose(body).strip().split("\n\n")
        assert rows and paragraphs[0].startswith("Run:") and all(p.startswith("|") for p in paragraphs[1:]), (
            f"section '{title}': figures outside its table name no run")
        for row in rows:
            command = re.match(r"\| `([^`]+)` \|", row)
            assert command and command_exists(command.group(1)) and _DATE.search(row), f"'{title}': {row}"
    intro = read(ROOT / "docs" / "measured.md").split("\n## ", 1)[0]
    assert not re.search(r"\d", prose(intro).split("\n", 1)[1]), "figures before the first run: name their run"


def table_rows(body: str) -> list[str]:
    return [line for line in body.splitlines() if line.startswith("|") and not line.startswith("|---")][1:]


def command_exists(command: str) -> bool:
    """A make target, or a script or test path of this repository, run the way the docs say."""
    argv = shlex.split(command)
    argv = argv[1:] if argv[0] == "time" else argv
    if argv[0] == "make":
        return all(t in make_targets() for t in argv[1:] if "=" not in t and not t.startswith("-"))
    paths = [a for a in argv[1:] if "/" in a and not a.startswith("-")]
    return argv[0] in (".venv/bin/python", "bash") and bool(paths) and all((ROOT / p).exists() for p in paths)


def test_the_readme_measured_table_has_five_rows_each_with_its_command():
    readme = read(ROOT / "README.md")
    section = readme.split("## Measured", 1)[1]
    rows = table_rows(section)
    assert len(rows) == 5
    for row in rows:
        command = re.findall(r"`([^`]+)`", row.rsplit("|", 2)[-2])
        assert command and command_exists(command[0]), row


def test_each_timing_is_stated_the_same_everywhere():
    """A line naming one `make X` and "about T" states X's timing: the Makefile's header, the README and
    docs/measured.md state each one once, or the same."""
    stated: dict[str, set[str]] = {}
    header = read(ROOT / "Makefile").split("\nSHELL", 1)[0]
    for source in (header, read(ROOT / "README.md"), read(ROOT / "docs" / "measured.md")):
        for line in source.splitlines():
            targets = set(re.findall(r"\bmake (\w+)", line))
            timings = re.findall(r"\babout (\d[\d.]*(?:-\d+)? (?:s|min))\b", line)
            if len(targets) == 1 and timings:
                stated.setdefault(targets.pop(), set()).update(timings)
    for target in ("demo", "plan", "latency", "test"):
        assert len(stated.get(target, ())) == 1, f"make {target}: timings stated {sorted(stated.get(target, ()))}"
