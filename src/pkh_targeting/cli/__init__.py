"""Command-line interface: ``pkh-targeting synth|validate|link|train|score|rank|feedback|report|demo|cases``.

Each command parses its options, calls one library function (a `pkh_targeting.jobs` job, or the
function of its room) and prints.
"""

from ._app import app
from ._cases import cases_app
from ._demo import demo
from ._lists import feedback, rank
from ._model import score, train
from ._records import link, synth, validate
from ._report import report

for _command in (synth, validate, link, train, score, rank, feedback, report, demo):  # in the order of --help
    app.command()(_command)
app.add_typer(cases_app, name="cases")

__all__ = ["app"]
