"""The listener's Part 10 bytes of a received dataset equal pynetdicom's `event.encoded_dataset()`
(loader/network/file_meta.py): the spool and --store-dir keep the very bytes they kept before."""

from __future__ import annotations

import pytest
from pydicom import dcmread
from pydicom.data import get_testdata_file
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, evt
from pynetdicom.dsutils import create_file_meta, encode_file_meta

from dicom_graph.loader.network.file_meta import part10_bytes, received_file

from .listener_peers import HOST, free_port

CT = "1.2.840.10008.5.1.4.1.1.2"


@pytest.mark.parametrize("instance", ["1.2.3", "1.2.34", "2.25.1", "1." + "2" * 62])
@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian, "1.2.840.10008.1.2.4.50"])
def test_bytes_equal_pynetdicom_for_odd_and_even_uids(instance: str, syntax: str) -> None:
    dataset = b"\x08\x00\x16\x00\x04\x00\x00\x00ABCD"
    meta = create_file_meta(sop_class_uid=UID(CT), sop_instance_uid=UID(instance), transfer_syntax=UID(syntax))
    expected = b"\x00" * 128 + b"DICM" + encode_file_meta(meta) + dataset
    assert part10_bytes(CT, instance, syntax, dataset) == expected


@pytest.mark.parametrize("instance", ["", "1.2.3 ", "1.2.x", "1.2.3\x00"])
def test_anything_but_a_plain_uid_goes_back_to_pynetdicom(instance: str) -> None:
    assert part10_bytes(CT, instance, ExplicitVRLittleEndian, b"") is None


def test_a_real_association_gives_the_same_bytes() -> None:
    """A pynetdicom SCP compares both for each C-STORE a pynetdicom SCU sends, over a real socket."""
    compared: list[bool] = []

    def on_store(event) -> int:
        compared.append(received_file(event) == event.encoded_dataset())
        return 0x0000

    paths = [get_testdata_file(name) for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm")]
    datasets = [dcmread(path) for path in paths]
    scp = AE("FILEMETA")
    for ds in datasets:
        scp.add_supported_context(ds.SOPClassUID, [ds.file_meta.TransferSyntaxUID])
    port = free_port()
    server = scp.start_server((HOST, port), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        scu = AE("SENDER")
        for ds in datasets:
            scu.add_requested_context(ds.SOPClassUID, ds.file_meta.TransferSyntaxUID)
        assoc = scu.associate(HOST, port, ae_title="FILEMETA")
        assert assoc.is_established
        statuses = [assoc.send_c_store(ds).Status for ds in datasets]
        assoc.release()
    finally:
        server.shutdown()
    assert statuses == [0x0000] * len(datasets)
    assert compared == [True] * len(datasets)
