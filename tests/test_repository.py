"""The repository speaks of the product only: no working-session talk, no machine-local paths, no dead links."""

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BINARY = {".png", ".jpg", ".pt", ".npz", ".npy", ".zip", ".gz", ".sqlite", ".db"}


def tracked() -> list[Path]:
    """The repository's text files outside tests/ (tests may name what they forbid)."""
    try:
        names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / n for n in names.splitlines()
            if not n.startswith("tests/") and Path(n).suffix not in BINARY and (ROOT / n).is_file()]


@pytest.mark.parametrize("pattern, what", [
    (r"(?i)\bsessions?\b", "the word 'session': say the date or the version"),
    (r"/tmp/|\.devdata|/root/|/home/\w|/work/", "a machine-local path: write one relative to the repository"),
])
def test_no_file_speaks_of_how_it_was_made(pattern, what):
    found = [f"{path.relative_to(ROOT)}:{n}: {line.strip()[:100]}"
             for path in tracked() for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
             if re.search(pattern, line)]
    assert not found, f"{what}:\n" + "\n".join(found[:20])


def slug(heading: str) -> str:
    """The anchor a Markdown renderer gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


LINK = r"\]\((?!https?://|mailto:)([^)#\s]*)(?:#([^)\s]+))?\)"


def test_every_link_of_the_docs_leads_somewhere():
    pages = [ROOT / "README.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "benchmarks").glob("*.md"))]
    broken = []
    for page in pages:
        for target, anchor in re.findall(LINK, page.read_text()):
            file = (page.parent / target).resolve() if target else page
            if not file.exists():
                broken.append(f"{page.name}: {target}")
            elif anchor and file.suffix == ".md":
                headings = {slug(line.split(" ", 1)[1]) for line in file.read_text().splitlines()
                            if re.match(r"#+ ", line)}
                if anchor not in headings:
                    broken.append(f"{page.name}: {target}#{anchor}")
    assert not broken, "\n".join(broken)


def test_every_doc_page_is_reachable_from_the_readme():
    seen, todo = set(), [ROOT / "README.md"]
    while todo:
        page = todo.pop()
        if page in seen or not page.exists() or page.suffix != ".md":
            continue
        seen.add(page)
        todo += [(page.parent / target).resolve() for target, _ in re.findall(LINK, page.read_text()) if target]
    assert not set((ROOT / "docs").rglob("*.md")) - seen


def test_every_benchmark_script_says_what_it_reproduces():
    listed = (ROOT / "benchmarks" / "README.md").read_text()
    scripts = [p.relative_to(ROOT / "benchmarks").as_posix() for p in (ROOT / "benchmarks").rglob("*")
               if p.suffix in (".py", ".sh") and "__pycache__" not in p.parts]
    assert scripts and not [s for s in scripts if f"`{s}`" not in listed]


@pytest.fixture(scope="module")
def home_of_a_module_fixture():
    """The cache folder as a module-scoped fixture (an engine built once for a module) sees it."""
    from cbir.config import cbir_home

    return cbir_home()


def test_fixtures_built_once_per_module_write_no_cache_outside_the_tests_temporary_folder(home_of_a_module_fixture,
                                                                                          tmp_path_factory):
    assert home_of_a_module_fixture.is_relative_to(tmp_path_factory.getbasetemp())
