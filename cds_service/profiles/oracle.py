"""`oracle`: Oracle Health (Cerner Millennium) as its public (beta) CDS Hooks documentation describes it.

Follows: Oracle Health (Cerner) "CDS Hooks" documentation, fhir.cerner.com `content/millennium/cds_hooks.md`
(cerner/fhir.cerner.com PR #707, beta):

* critical cards open a pop-up; the others sit in a side panel about an eighth of the screen wide, so a
  detail longer than 3,000 characters is cut at a line boundary (the cut is said at the end);
* `appContext` is not supported: a SMART link that needs one would launch without its context, so it
  becomes guidance in the detail instead of a link;
* links that are not on the site's allow-list are stripped by the EHR: every link is also written into the
  detail (label and URL), so no source disappears with it;
* suggestions and actions are applied as the specification says (not documented otherwise: unverified).
"""

from cds_service.profiles.base import ClientProfile

PROFILE = ClientProfile(
    name="oracle",
    title="Oracle Health (Cerner Millennium)",
    document="Oracle Health CDS Hooks documentation, https://fhir.cerner.com/millennium/cds-hooks/ (beta; "
    "cerner/fhir.cerner.com content/millennium/cds_hooks.md)",
    selection_behavior="at-most-one",
    max_actions_per_suggestion=None,
    applies={"create": None, "update": None, "delete": None},
    app_context=False,
    links_in_detail=True,
    max_detail_chars=3000,
)
