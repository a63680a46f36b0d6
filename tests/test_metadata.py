import pytest

from ingest.metadata import extract_metadata, parse_date
from tests.samples import NORTH_SOMERSET, OPAQUE_NAMES, SOUTHEND_2016, SOUTHEND_2019, SOUTHWARK, SWINDON, sample_text

EXPECTED = {
    NORTH_SOMERSET: ("North Somerset Council", "Executive", "2020-10-21", "Ofsted Report and Draft Improvement Plan"),
    SOUTHEND_2019: ("Southend-on-Sea Borough Council", "Cabinet", "2019-09-17",
                    "Ofsted Inspection of Local Authority Children's Services"),
    # The agenda letter is dated 8 July; the meeting is on the 12th.
    SOUTHEND_2016: ("Southend-on-Sea Borough Council", "People Scrutiny Committee", "2016-07-12",
                    "Ofsted Inspection of services for children in need of help and protection, children "
                    "looked after and care leavers and Review of the LSCB"),
    SOUTHWARK: ("London Borough of Southwark", "Corporate Parenting Committee", "2017-11-06",
                "Ofsted Inspection of 'Services for Children in Need of Help and Protection, Children Looked "
                "After and Care Leavers' - Post Inspection Action Plan"),
    # Swindon's text never writes its council's full name: the gazetteer supplies it.
    SWINDON: ("Swindon Borough Council", "Cabinet", "2019-09-04",
              "Ofsted Inspection of Local Authority Children's Social Care Services (ILACS) Findings"),
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sample_metadata_is_read_from_the_text(name):
    opaque = OPAQUE_NAMES[name]
    meta = extract_metadata(sample_text(name), opaque)
    assert (meta.council, meta.meeting, meta.date, meta.title) == EXPECTED[name]
    assert meta.source == opaque
    assert meta.report_id == opaque.removesuffix(".txt").replace("_", "-")


def test_report_id_is_stable_and_content_hash_tracks_text():
    text = sample_text(NORTH_SOMERSET)
    a = extract_metadata(text, NORTH_SOMERSET)
    b = extract_metadata(text, NORTH_SOMERSET)
    c = extract_metadata(text + "\nAddendum.", NORTH_SOMERSET)
    assert a.report_id == b.report_id == c.report_id == "north-somerset-2020-10-21-executive"
    assert a.content_hash == b.content_hash != c.content_hash


def test_file_name_is_the_fallback_when_the_text_has_no_cover():
    meta = extract_metadata("Notes from a meeting about nothing in particular.\n", "kent-2021-03-04-cabinet.txt")
    assert meta.date == "2021-03-04"
    assert meta.title == "kent 2021 03 04 cabinet"
    assert meta.council is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("17th September 2019", "2019-09-17"),
        ("4<sup>th</sup> September 2019", "2019-09-04"),
        ("TUESDAY, 12TH JULY, 2016", "2016-07-12"),
        ("6 Nov 2017", "2017-11-06"),
        ("on 2020-10-21", "2020-10-21"),
        ("21/10/2020", "2020-10-21"),
        ("31 February 2020 then 1 March 2020", "2020-03-01"),
        ("no date here", None),
    ],
)
def test_parse_date(text, iso):
    assert parse_date(text) == iso
