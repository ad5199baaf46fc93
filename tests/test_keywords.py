"""The one check of ``**keywords`` against the names a function takes (``ppdata._keywords``),
as ``Catalog.sessions`` and ``make_plot`` use it."""

from __future__ import annotations

import pytest

from ppdata._keywords import check_keywords


def test_a_keyword_taken_passes_and_any_other_is_named_with_the_ones_taken():
    check_keywords({"b": 1}, ("a", "b"), "f()")
    check_keywords({}, (), "f()")
    with pytest.raises(TypeError) as info:
        check_keywords({"z": 1, "c": 2, "a": 3}, ("a", "b"), "f()")
    # the first unknown one by name, as Python names one, and what there is instead
    assert str(info.value) == "f() got an unexpected keyword argument 'c'; it takes a, b"
    with pytest.raises(TypeError, match=r"'a'; it takes no keyword arguments$"):
        check_keywords({"a": 1}, (), "g()")


def test_catalog_sessions_refuses_a_misspelt_filter_and_lists_the_filters(settings):
    from ppdata.find.catalog import Catalog

    catalog = Catalog(settings)  # refused before the catalog is read: no refresh needed
    with pytest.raises(TypeError) as info:
        catalog.sessions(platfrom="ecephys")  # type: ignore[call-arg]
    assert str(info.value) == (
        "sessions() got an unexpected keyword argument 'platfrom'; it takes platform, "
        "subject, since, until, qc, asset_qc, has, search, on_s3"
    )
