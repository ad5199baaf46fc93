"""The HDF5 metadata walk (``ppdata.nwb.h5walk``): it fetches what h5py then reads, for
the project units scan and ``Session.units()``, and gives up quietly on files it does not know."""

from __future__ import annotations

import numpy as np
import pytest

from ppdata.mirror.world import EPHYS_COMPLETE

LOCATION = "general/extracellular_ephys/electrodes/location"


def test_walk_fetches_everything_h5py_reads_for_the_units(client, world):
    import h5py

    from ppdata.nwb.backends import H5Backend
    from ppdata.nwb.h5walk import prefetch_group
    from ppdata.nwb.storage import S3File

    key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    # small blocks, so that the metadata is spread over many of them and several steps
    fileobj = S3File(client, key, block_size=16 * 2**10)
    fileobj.prefetch([(0, fileobj.block_size)])
    before = client.stats.snapshot()
    headers = prefetch_group(fileobj, "units", others=[LOCATION])
    walked = client.stats.snapshot()
    assert (walked - before).requests > 0

    with h5py.File(fileobj, "r") as root:
        backend = H5Backend(root, fileobj)
        units = root["units"]
        names = list(units)
        assert sorted(headers) == sorted(names)
        for name in names:
            assert headers[name] == units.id.links.get_info(name.encode()).u
        members = {name: units[name] for name in names}
        assert "colnames" in units.attrs
        assert root[LOCATION].shape[0] > 0
        # nothing h5py needed to open the group, list it and open its members was missing
        assert (client.stats.snapshot() - walked).requests == 0
        for node in members.values():
            if isinstance(node, h5py.Dataset) and node.ndim == 1 and node.dtype.kind in "biuf":
                np.testing.assert_array_equal(backend.read_array(node), node[:])
    fileobj.close()


class _LocalBlocks:
    """A local file with the three things the walk uses of an S3File."""

    def __init__(self, path) -> None:
        self.data = path.read_bytes()
        self.size = len(self.data)
        self.fetched: list[tuple[int, int]] = []

    def prefetch(self, ranges) -> None:
        self.fetched.extend(ranges)

    def read_range(self, start: int, end: int) -> bytes:
        return self.data[start:end]


def test_walk_leaves_files_it_does_not_know_to_h5py(tmp_path):
    import h5py

    from ppdata.nwb.h5walk import prefetch_group

    newer = tmp_path / "latest.h5"
    with h5py.File(newer, "w", libver="latest") as f:
        for i in range(20):
            f.create_dataset(f"units/c{i}", data=np.arange(10))
    assert prefetch_group(_LocalBlocks(newer), "units") == {}

    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    assert prefetch_group(_LocalBlocks(garbage), "units") == {}

    old = tmp_path / "earliest.h5"
    with h5py.File(old, "w") as f:
        for i in range(20):
            f.create_dataset(f"units/c{i}", data=np.arange(10))
        f.create_dataset("other", data=np.arange(3))
    local = _LocalBlocks(old)
    headers = prefetch_group(local, "units", others=["other", "missing/path"])
    with h5py.File(old, "r") as f:
        group = f["units"]
        assert headers == {f"c{i}": group.id.links.get_info(f"c{i}".encode()).u for i in range(20)}
    assert prefetch_group(local, "absent") == {}


def test_units_scan_reads_numbers_past_h5py_and_after_the_walk_only_windows(
    client, world, monkeypatch
):
    import ppdata.project.units_scan as scan
    from ppdata.nwb.backends import H5Backend
    from ppdata.session import Session

    through_h5py: list[str] = []
    real = H5Backend._read_h5py

    def recording(self, ds, selection, raw):
        through_h5py.append(ds.dtype.kind)
        return real(self, ds, selection, raw)

    monkeypatch.setattr(H5Backend, "_read_h5py", recording)
    session = Session(EPHYS_COMPLETE, client=client)
    nwb_asset = world.session(EPHYS_COMPLETE).current("nwb").name
    nwb, own = scan.open_units_nwb(session, nwb_asset)
    assert own and nwb.hdf5_file is not None
    opened = client.stats.snapshot()
    table = scan.units_arrow(nwb, "x")
    # everything but the probes' electrode windows (one batch) was fetched by the walk
    probes = len(set(table.column("probe").to_pylist()))
    assert (client.stats.snapshot() - opened).requests <= probes
    assert table.num_rows == world.session(EPHYS_COMPLETE).current("nwb").units
    # numbers come from their stored bytes; h5py reads only the strings
    assert through_h5py and set(through_h5py) <= {"O", "S"}, through_h5py
    nwb.close()
    session.close()


def test_after_the_walk_the_units_table_makes_no_request(client, world, monkeypatch):
    """``NWB.prefetch_group`` on a session's complete HDF5 NWB fetches all that
    :func:`ppdata.nwb.ephys.units` then reads (headers, small columns, the string heaps of
    its string columns, even of empty strings, and the electrodes' locations)."""
    import ppdata.nwb.storage as storage
    from ppdata.nwb.ephys import ELECTRODES, UNITS, units
    from ppdata.session import Session

    # small blocks, so that the metadata is spread over many of them (as on a 14 GB file)
    monkeypatch.setattr(storage, "BLOCK_SIZE", 16 * 2**10)
    session = Session(EPHYS_COMPLETE, client=client)
    try:
        nwb = session.nwb()
        assert nwb.hdf5_file is not None and nwb.hdf5_file.block_size == 16 * 2**10
        before = client.stats.snapshot()
        nwb.prefetch_group(UNITS, others=[f"{ELECTRODES}/location"])
        walked = client.stats.snapshot()
        assert (walked - before).requests > 0
        frame = units(nwb)
        assert (client.stats.snapshot() - walked).requests == 0
        assert len(frame) == world.session(EPHYS_COMPLETE).current("nwb").units
        assert frame["brain_area"].notna().any()
    finally:
        session.close()


def test_walk_spends_a_round_trip_only_on_bytes_not_yet_fetched(client, world):
    """Walks side by side do not wait for each other's fetches when their own next bytes are
    cached: every batch the walk asks for holds a block not yet fetched (the path to the
    electrodes' location shares its blocks with the root's, and used to take a step of its
    own for each of its links)."""
    from ppdata.nwb.h5walk import prefetch_group
    from ppdata.nwb.storage import S3File

    key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    fileobj = S3File(client, key, block_size=16 * 2**10)
    fileobj.prefetch([(0, fileobj.block_size)])
    batches: list[bool] = []
    fetch = fileobj.prefetch

    def recording(ranges):
        ranges = list(ranges)
        batches.append(fileobj.cached(ranges))
        fetch(ranges)

    fileobj.prefetch = recording  # type: ignore[method-assign]
    headers = prefetch_group(fileobj, "units", others=[LOCATION], whole=["electrodes"])
    assert headers and len(batches) >= 2
    assert not any(batches), batches  # no batch of bytes already there
    fileobj.close()


def test_walk_fetches_the_members_named_whole_whatever_their_size(client, world):
    """``whole`` members (the units' electrodes, which the brain-area join reads whole) get
    their data fetched by the walk, past ``data_limit``: h5py then reads them with no
    request. Without it, the same read makes requests. ``whole`` may be a function of the
    group's member names: units() fetches the electrodes only where the join will be made."""
    import h5py

    from ppdata.nwb.ephys import _joined_whole
    from ppdata.nwb.h5walk import prefetch_group
    from ppdata.nwb.storage import S3File

    key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key

    def requests_to_read_electrodes(whole) -> int:
        fileobj = S3File(client, key, block_size=16 * 2**10)
        fileobj.prefetch([(0, fileobj.block_size)])
        prefetch_group(fileobj, "units", data_limit=64, whole=whole)
        before = client.stats.snapshot()
        with h5py.File(fileobj, "r") as root:
            assert root["units/electrodes"][:].size > 0
        fileobj.close()
        return (client.stats.snapshot() - before).requests

    assert requests_to_read_electrodes(["electrodes"]) == 0
    assert requests_to_read_electrodes([]) > 0
    # chosen from the group's members, as units() does for its brain-area join
    seen: list[str] = []

    def choose(members):
        seen.extend(members)
        return _joined_whole(members)

    assert requests_to_read_electrodes(choose) == 0
    assert {"electrodes", "extremum_channel_index", "spike_times"} <= set(seen)
    assert _joined_whole(["electrodes", "electrodes_index", "spike_times"]) == []


def test_session_units_walks_before_h5py_opens_the_file(client, world, monkeypatch):
    """``Session.units()`` opens the complete NWB with the units' walk run first
    (``ephys.prepare_units``): its first batch holds the root group's blocks too, so h5py's
    open finds all it reads cached, where a plain open reads them one round trip at a time.
    The units table then makes no request of its own."""
    import h5py

    import ppdata.nwb.ephys as ephys
    import ppdata.nwb.storage as storage
    from ppdata.session import Session

    monkeypatch.setattr(storage, "BLOCK_SIZE", 16 * 2**10)
    opening: list[int] = []
    reading: list[int] = []
    real_file, real_units = h5py.File, ephys.units

    def counted(into, call):
        def wrapper(*args, **kwargs):
            before = client.stats.snapshot()
            try:
                return call(*args, **kwargs)
            finally:
                into.append((client.stats.snapshot() - before).requests)

        return wrapper

    monkeypatch.setattr(h5py, "File", counted(opening, real_file))
    monkeypatch.setattr(ephys, "units", counted(reading, real_units))
    with Session(EPHYS_COMPLETE, client=client) as session:
        frame = session.units()
        assert session.nwb().hdf5_file is not None
    assert len(frame) == world.session(EPHYS_COMPLETE).current("nwb").units
    assert frame["brain_area"].notna().all()
    assert opening == [0] and reading == [0], (opening, reading)
    with Session(EPHYS_COMPLETE, client=client) as session:
        session.nwb()  # no walk first
    assert opening[1] > 0


def test_the_same_walk_again_reads_nothing(client, world):
    """A walk made again on the same file (an open's ``prepare``, then the read it was made
    for) returns the first one's result without reading the file."""
    from ppdata.nwb.h5walk import prefetch_group
    from ppdata.nwb.storage import S3File

    key = world.session(EPHYS_COMPLETE).current("nwb").nwb_key
    fileobj = S3File(client, key, block_size=16 * 2**10)
    fileobj.prefetch([(0, fileobj.block_size)])
    first = prefetch_group(fileobj, "units", others=[LOCATION])
    assert first
    fileobj.read_range = None  # type: ignore[assignment,method-assign]  # reading would fail
    assert prefetch_group(fileobj, "units", others=[LOCATION]) == first
    with pytest.raises(TypeError):  # another walk does read
        prefetch_group(fileobj, "units")
    fileobj.close()


def test_walk_fetches_a_chunk_index_beside_the_rest_of_its_header(tmp_path):
    """Where an array's header holds its layout and continues elsewhere (attributes written
    after the data, as hdmf does), its chunk index is fetched in the same batch as the
    continuation: h5py reads both, and neither needs the other."""
    import struct

    import h5py

    from ppdata.nwb import h5walk

    path = tmp_path / "continued.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("units/electrodes_index", data=np.arange(3000), chunks=(1000,))
        for i in range(5):
            f.create_dataset(f"units/c{i}", data=np.arange(10))
        for i in range(30):
            ds.attrs[f"note{i}"] = "x" * 40
    with h5py.File(path, "r") as f:
        group = f["units"]
        address = group.id.links.get_info(b"electrodes_index").u
        expected = f["units/electrodes_index"][:]

    class Batches(_LocalBlocks):
        def __init__(self, path) -> None:
            super().__init__(path)
            self.batches: list[list[tuple[int, int]]] = []

        def prefetch(self, ranges) -> None:
            self.batches.append(list(ranges))

    local = Batches(path)
    walk = h5walk._File(local)
    size = struct.unpack_from("<I", local.data, address + 8)[0]
    messages, following = h5walk._parse(walk, [(address + 16, size)])
    layout = h5walk._message(messages, h5walk._LAYOUT)
    # the case: the layout (chunked) in the first chunk, the header continued elsewhere
    assert layout is not None and layout[1] == 2 and following
    btree = walk.off(layout, 3)
    headers = h5walk.prefetch_group(local, "units", large_indexes=False)
    assert headers["electrodes_index"] == address

    def batch_of(start: int) -> int:
        return next(i for i, b in enumerate(local.batches) if any(a == start for a, _ in b))

    assert batch_of(following[0][0]) == batch_of(btree)
    with h5py.File(path, "r") as f:  # what the walk read is what h5py reads
        np.testing.assert_array_equal(f["units/electrodes_index"][:], expected)
