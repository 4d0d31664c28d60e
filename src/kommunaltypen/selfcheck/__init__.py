"""The Typ-Check's core (issue 12): one municipality's result, explained and compared.

* :mod:`.explain` — the nearest other type and the smallest change of the goal ranking that
  leads there (:func:`.explain.explain`; not re-exported, so the module keeps its name), the
  goal profile against the type centres (:func:`goal_profile`) and its accessible SVG chart
  (:func:`profile_svg`);
* :mod:`.peers` — figures for all municipalities, the own type and a chosen peer group (same
  Kommunenart, size class or Land) under the small-group rules (:func:`peer_basis` once per
  analysis, then :func:`compare` per request);
* :mod:`.view` — everything the result page and the PDF show, as frozen dataclasses with the
  texts in one language (:func:`profile_view`);
* :mod:`.pdf` — the A4 tagged PDF profile (:func:`render_profile_pdf`).

No front end, storage or global state: the web application calls these per request (see
``docs/selfcheck.md``).
"""

from kommunaltypen.selfcheck.explain import (
    Change,
    Edit,
    Explanation,
    GoalProfile,
    RankingSpace,
    goal_profile,
    profile_svg,
    ranking_space,
)
from kommunaltypen.selfcheck.pdf import render_profile_html, render_profile_pdf
from kommunaltypen.selfcheck.peers import (
    MIN_N,
    PEER_KINDS,
    Figure,
    PeerBasis,
    PeerComparison,
    PeerGroup,
    compare,
    peer_basis,
    peer_group_of,
    suppress,
)
from kommunaltypen.selfcheck.view import ProfileView, profile_view

__all__ = [
    "MIN_N",
    "PEER_KINDS",
    "Change",
    "Edit",
    "Explanation",
    "Figure",
    "GoalProfile",
    "PeerBasis",
    "PeerComparison",
    "PeerGroup",
    "ProfileView",
    "RankingSpace",
    "compare",
    "goal_profile",
    "peer_basis",
    "peer_group_of",
    "profile_svg",
    "profile_view",
    "ranking_space",
    "render_profile_html",
    "render_profile_pdf",
    "suppress",
]
