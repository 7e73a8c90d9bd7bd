"""codedeps' cache of scanned sources: the same code dependencies with and without it, from a damaged one too, and an
edited file is scanned again (its text is the key)."""
from __future__ import annotations

import pytest

from allrepro import codedeps


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """A cache folder of this test's own; nothing remembered in this process."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def forget():
        codedeps.references.cache_clear()
        codedeps._scans.cache_clear()
        codedeps._new.clear()

    forget()
    yield forget
    forget()


def test_the_cache_changes_no_answer_and_a_damaged_one_is_ignored(fresh):
    modules = ["allrepro.audit.stage", "allrepro.report", "allrepro.params"]
    first = codedeps.closure(modules)  # scanned: the cache is written
    assert "src/allrepro/audit/uncertainty.py" in first and "workflow/notebooks/report.ipynb" in first
    cache = codedeps._cache_file()
    assert cache.is_file() and len(codedeps._scans()) >= len(first) - 3  # (data files are not scanned)
    fresh()
    assert codedeps.closure(modules) == first  # every module read back from the cache
    cache.write_text('{"not": "a closed')
    fresh()
    assert codedeps.closure(modules) == first


def test_an_edited_file_is_scanned_again(fresh, tmp_path):
    module = tmp_path / "user_module.py"
    module.write_text("from allrepro import cache\n")
    assert codedeps.references(module)[0] == ("allrepro", "allrepro.cache")
    codedeps._save()
    module.write_text("from allrepro import ensemble\nimport allrepro.train\n")
    fresh()
    assert codedeps.references(module)[0] == ("allrepro", "allrepro.ensemble", "allrepro.train")
