"""`sandbox`: the CDS Hooks Sandbox (https://sandbox.cds-hooks.org, github.com/cds-hooks/sandbox).

Follows: the Sandbox's source (cds-hooks/sandbox, commit 3b7e255: `src/components/CardList`,
`src/retrieve-data-helpers/service-exchange.js`) and what it did against this service in a browser:

* it copies the `medicationCodeableConcept` of any create or update suggestion into the current draft: a
  "stop the opioid" update or a "create naloxone" suggestion turned the naltrexone draft into that drug, and
  the next call answered "All clear!". Such actions are misapplied, so they become guidance in the detail;
* delete clears the draft (applied as intended); a ServiceRequest create (urine screen, liver panel) carries
  no medication and is applied as intended;
* it ignores `at-most-one`; the suggestions left are ones that may all be taken, so `any` is sent;
* links of both types are shown.
"""

from cds_service.profiles.base import ClientProfile

PROFILE = ClientProfile(
    name="sandbox",
    title="CDS Hooks Sandbox",
    document="cds-hooks/sandbox (commit 3b7e255), src/components/CardList and service-exchange; observed in a "
    "browser against this service",
    selection_behavior="any",
    max_actions_per_suggestion=None,
    applies={"create": None, "update": None, "delete": None},
    misapplied_elements=("medicationCodeableConcept", "medicationReference"),
)
