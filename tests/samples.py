"""The five sample reports, under the opaque names they were delivered with, for parser tests."""

from __future__ import annotations

from pathlib import Path

from reports_qa.settings import SAMPLE_REPORTS_DIR

NORTH_SOMERSET = "north-somerset-2020-10-21-executive.txt"
SOUTHEND_2016 = "southend-on-sea-2016-07-12-people-scrutiny-committee.txt"
SOUTHEND_2019 = "southend-on-sea-2019-09-17-cabinet.txt"
SOUTHWARK = "southwark-2017-11-06-corporate-parenting-committee.txt"
SWINDON = "swindon-2019-09-04-cabinet.txt"
ALL = [NORTH_SOMERSET, SOUTHEND_2016, SOUTHEND_2019, SOUTHWARK, SWINDON]

# The names the files came with carry no metadata, so tests can prove it is read from the text.
OPAQUE_NAMES = {
    SOUTHEND_2019: "000_99a853e891ff1ad5.txt",
    NORTH_SOMERSET: "001_820a53567a27642e.txt",
    SOUTHEND_2016: "002_f3667ff2bd7cbd6e.txt",
    SOUTHWARK: "003_b6c6df966d64ccec.txt",
    SWINDON: "004_f21168ffccbb184e.txt",
}


def sample_text(name: str) -> str:
    return (Path(SAMPLE_REPORTS_DIR) / name).read_text(encoding="utf-8")


# The six areas Ofsted named under North Somerset's "What needs to improve", verbatim.
NORTH_SOMERSET_IMPROVE = [
    "The effectiveness, and management oversight, of decision-making when children first come to the attention of the local authority.",
    "The quality of analysis in assessments, including the impact of children's situations on their health and development.",
    "Management oversight and supervision of the progress of children's plans.",
    "Formalised matching of children with their long-term carers.",
    "Access to the drop-in for older children in care and care leavers who are working or who are in full-time education or employment.",
    "Use of performance management information to systematically inform leaders' understanding of the quality and impact of practice for children.",
]
