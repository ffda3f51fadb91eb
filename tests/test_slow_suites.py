"""A plain ``scripts/test`` runs the fast set and says what it skipped and why; CI runs every suite.

The slow suites are pytest markers (``conftest.SLOW_SUITES``): the whole suite run without arguments skips them,
and counts every skip by its reason at the end; ``--full``, CI=true, a ``-m`` expression or tests named on the
command line run them. (How long the fast set takes is a benchmark, not a test: README, "The tests".)
"""

import pytest

from conftest import REPO, SLOW_SUITES

pytest_plugins = ["pytester"]

TESTS = """
import pytest

@pytest.mark.training
def test_trains():
    pass

@pytest.mark.browser
def test_browses():
    pass

def test_fast():
    pass

def test_without_data():
    pytest.skip("../shared/datasets/mnist not found")
"""


@pytest.fixture
def suite(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest((REPO / "tests" / "conftest.py").read_text(encoding="utf-8"))
    pytester.makepyfile(test_suite=TESTS)
    return pytester


def test_the_whole_suite_skips_the_slow_suites_and_counts_the_skips_by_reason(suite):
    result = suite.runpytest()
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.re_match_lines([r".*3 skipped, by reason.*",
                                  r"\s+1\s+\.\./shared/datasets/mnist not found",
                                  r"\s+1\s+slow suite browser: drives headless Chromium",
                                  r"\s+1\s+slow suite training: trains real models",
                                  r".*scripts/test --full runs the slow suites, as CI does.*"])


@pytest.mark.parametrize("how", [["--full"], ["-m", "training or browser or not training"], ["test_suite.py"],
                                 ["test_suite.py::test_trains", "test_suite.py::test_browses"], "CI=true"])
def test_full_ci_a_marker_expression_or_named_tests_run_the_slow_suites(suite, monkeypatch, how):
    if how == "CI=true":
        monkeypatch.setenv("CI", "true")
        how = []
    outcomes = suite.runpytest(*how).parseoutcomes()
    assert outcomes["passed"] >= 2 and "slow suite" not in str(outcomes)


def test_every_slow_suite_is_a_marker_readme_names():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in SLOW_SUITES) and "scripts/test --full" in readme
