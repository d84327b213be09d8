"""Every ```python block of README.md and docs/*.md runs and passes ``mypy --strict``.

Convention and the not-run marker: see ``tests/docs/snippets.py``. A failure
names the page and the page's line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs.snippets import (
    ROOT,
    SKIP_MARK,
    SnippetSyntaxError,
    blocks,
    module_source,
    pages,
    python_blocks,
)

PAGES = [page for page in pages() if python_blocks(page)]
MAX_NOT_RUN = 0.25
"""At most this share of a page's python blocks may be marked not-run."""
TIMEOUT = 90.0


def _params(found: list[Path]) -> list[object]:
    return [pytest.param(page, id=_id(page)) for page in found]


def _id(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def _module_name(page: Path) -> str:
    return "page_" + re.sub(r"\W", "_", page.stem.lower())


@pytest.mark.parametrize("page", _params(PAGES))
def test_page_python_blocks_run(page: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env.pop("TADPOLE_SECRET", None)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.docs.snippets", str(page)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(
            f"the python blocks of {_id(page)} did not finish within {TIMEOUT:g}s:\n"
            f"{(exc.stderr or b'')[-4000:]!r}",
            pytrace=False,
        )
    if result.returncode != 0:
        pytest.fail(
            f"the python blocks of {_id(page)} failed (the traceback's line numbers are "
            f"the page's):\n{result.stderr[-6000:]}",
            pytrace=False,
        )


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    """``mypy --strict`` over every page's module, once; its errors by page."""
    return check_types(PAGES, tmp_path_factory.mktemp("docs-mypy"))


def check_types(found: list[Path], work: Path) -> dict[str, list[str]]:
    """``mypy --strict`` over the pages' modules in one run; errors by page, page lines."""
    api = pytest.importorskip("mypy.api")
    files: dict[str, Path] = {}
    report: dict[str, list[str]] = {_id(page): [] for page in found}
    for page in found:
        source = module_source(page)
        try:
            compile(source, _id(page), "exec")
        except SyntaxError as exc:
            # A page that does not parse would stop mypy for every page: report it alone.
            report[_id(page)].append(f"{_id(page)}:{exc.lineno}: syntax error: {exc.msg}")
            continue
        target = work / f"{_module_name(page)}.py"
        target.write_text(source, encoding="utf-8")
        files[str(target)] = page
    if not files:
        return report
    config = work / "mypy.ini"
    config.write_text(
        "[mypy]\nstrict = True\nwarn_unreachable = True\npython_version = 3.11\n"
        f"mypy_path = {ROOT / 'src'}\n",
        encoding="utf-8",
    )
    # A fresh cache: mypy replays the errors of cached modules with their old paths.
    cache = work / "cache"
    stdout, stderr, status = api.run(
        ["--config-file", str(config), "--cache-dir", str(cache), "--no-error-summary", *files]
    )
    if status not in (0, 1) or (status == 1 and not stdout.strip()):
        pytest.fail(f"mypy could not run on the docs' snippets:\n{stdout}{stderr}", pytrace=False)
    for line in stdout.splitlines():
        path, sep, rest = line.partition(":")
        page = files.get(path) or files.get(str(Path(path).resolve()))
        if sep and page is not None:
            report[_id(page)].append(f"{_id(page)}:{rest}")
        elif line.strip():
            report.setdefault("<mypy>", []).append(line)
    return report


@pytest.mark.parametrize("page", _params(PAGES))
def test_page_python_blocks_pass_mypy_strict(page: Path, mypy_report: dict[str, list[str]]) -> None:
    errors = [*mypy_report[_id(page)], *mypy_report.get("<mypy>", [])]  # <mypy>: unplaced
    if errors:
        pytest.fail(
            "mypy --strict on the python blocks of "
            f"{_id(page)} (line numbers are the page's):\n" + "\n".join(errors),
            pytrace=False,
        )


@pytest.mark.parametrize("page", pages(), ids=_id)
def test_not_run_blocks_are_rare_and_give_a_reason(page: Path) -> None:
    found = python_blocks(page)
    skipped = [block for block in found if block.skip_reason is not None]
    for block in skipped:
        assert block.skip_reason, f"{block.page}:{block.line - 1}: not-run without a reason"
    if skipped:
        assert len(skipped) <= max(1, int(len(found) * MAX_NOT_RUN)), (
            f"{_id(page)}: {len(skipped)} of {len(found)} python blocks are marked not-run; "
            "make them run (or show shell and output in ```sh / ```text blocks)"
        )


# -- the harness itself ----------------------------------------------------------


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text, encoding="utf-8")
    return page


def test_blocks_keep_their_page_line_numbers(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "# Title\n\n```python\nx = 1\n```\n\ntext\n\n```python\ny = x + 1\n```\n",
    )
    source = module_source(page).splitlines()
    assert source[3] == "x = 1"  # line 4 of the page
    assert source[9] == "y = x + 1"  # line 10 of the page


def test_a_marked_block_is_left_out_and_other_languages_never_run(tmp_path: Path) -> None:
    page = _page(
        tmp_path,
        "<!-- docs: not run: a fragment of a transport loop -->\n```python\nboom()\n```\n"
        "```sh\nrm -rf /\n```\n```text\nnot python\n```\n```python\nok = True\n```\n",
    )
    assert [b.language for b in blocks(page)] == ["python", "sh", "text", "python"]
    assert python_blocks(page)[0].skip_reason == "a fragment of a transport loop"
    assert "boom" not in module_source(page)
    assert "ok = True" in module_source(page)


def test_a_marker_without_a_reason_is_an_error(tmp_path: Path) -> None:
    page = _page(tmp_path, "<!-- docs: not run -->\n```python\nx = 1\n```\n")
    with pytest.raises(SnippetSyntaxError, match=r"page\.md:1: a not-run marker needs a reason"):
        blocks(page)
    assert SKIP_MARK.match("<!-- docs: not run: why -->")


def test_an_unclosed_fence_names_its_line(tmp_path: Path) -> None:
    page = _page(tmp_path, "text\n\n```python\nx = 1\n")
    with pytest.raises(SnippetSyntaxError, match=r"page\.md:3: the fence opened here"):
        blocks(page)


def test_longer_fences_and_tildes_nest(tmp_path: Path) -> None:
    page = _page(tmp_path, "````markdown\n```python\nnot run\n```\n````\n~~~python\nz = 3\n~~~\n")
    assert [b.language for b in blocks(page)] == ["markdown", "python"]
    assert module_source(page).strip() == "z = 3"


def test_a_failing_block_is_reported_with_the_page_line(tmp_path: Path) -> None:
    page = _page(tmp_path, "# T\n\n```python\nx = 1\n```\n\n```python\nraise ValueError(x)\n```\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    result = subprocess.run(
        [sys.executable, "-m", "tests.docs.snippets", str(page)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode != 0
    assert f'File "{page}", line 8' in result.stderr
    assert "ValueError: 1" in result.stderr


def test_type_errors_are_reported_per_page_and_a_broken_page_stops_no_other(
    tmp_path: Path,
) -> None:
    good = _page_named(tmp_path, "good.md", "# G\n\n```python\nx: int = 1\n```\n")
    wrong = _page_named(tmp_path, "wrong.md", "# W\n\ntext\n\n```python\ny: int = 'a'\n```\n")
    broken = _page_named(tmp_path, "broken.md", "```python\nawait nothing()\n```\n")
    work = tmp_path / "work"
    work.mkdir()
    report = check_types([good, wrong, broken], work)
    assert report[str(good)] == []
    assert len(report[str(wrong)]) == 1
    assert report[str(wrong)][0].startswith(f"{wrong}:6: error: Incompatible types")
    assert report[str(broken)] == [f"{broken}:2: syntax error: 'await' outside function"]


def _page_named(tmp_path: Path, name: str, text: str) -> Path:
    page = tmp_path / name
    page.write_text(text, encoding="utf-8")
    return page
