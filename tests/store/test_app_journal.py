"""Through HTTP on SQLite: while ledger writes fail, hook calls still answer their cards (never a 500), the
cards and feedback go to the journal, /readyz says degraded with the pending count, the metrics count it,
and everything lands in the ledger once it works again. The failure is real: the ledger table is renamed
away from outside the service (every insert then fails with "no such table"), and renamed back.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from cds_service.app import create_app
from tests.conftest import Client, make_settings
from tests.ops.test_metrics import samples, value
from tests.store.app_helpers import SIGN, body, by_rule, count, hook_request, override

SCENARIO = "opioid-stopped-3-days"


def rename(db_url: str, old: str, new: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))
    finally:
        engine.dispose()


def readyz(client: Client) -> tuple[int, dict]:
    response = client.get("/readyz")
    return response.status_code, response.json()


def test_failing_ledger_still_answers_and_catches_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, journal_dir=tmp_path / "journal")
    db_url = settings.database_url
    app = create_app(settings)
    with TestClient(app) as http:
        client = Client(http)
        before = samples(client.get("/metrics").text)

        def delta(name: str, **labels: str) -> float:
            return value(samples(client.get("/metrics").text), name, **labels) - value(before, name, **labels)

        first = client.hook(hook_request(SCENARIO))
        assert first.status_code == 200
        expected_rules = sorted(by_rule(first.json()["cards"]))
        assert count(db_url, "issued_card") == len(expected_rules)

        rename(db_url, "issued_card", "issued_card_away")  # every ledger insert now fails
        during = client.hook(hook_request(SCENARIO))
        assert during.status_code == 200, during.text
        cards = by_rule(during.json()["cards"])
        assert sorted(cards) == expected_rules  # the same guidance as with a working ledger
        a_card = next(iter(cards.values()))
        fed = client.post(f"/cds-services/{SIGN}/feedback",
                          json=body(override(a_card, a_card["overrideReasons"][0]["code"])))
        assert fed.status_code == 200, fed.text
        assert fed.json() == {"stored": 0, "received": 1, "queued": 1}

        status, ready = readyz(client)
        assert (status, ready["status"]) == (200, "degraded"), ready
        assert ready["checks"]["database"]["state"] == "degraded"
        assert ready["checks"]["database"]["detail"].startswith("ledger writes failing (OperationalError)")
        assert ready["checks"]["journal"] == {"state": "degraded", "pending": 2,
                                              "detail": "2 entries pending replay to the ledger database"}
        assert delta("cds_journal_writes_total", kind="cards", result="written") == 1
        assert delta("cds_journal_writes_total", kind="feedback", result="written") == 1
        assert delta("cds_ledger_failures_total", operation="cards") == 1
        assert value(samples(client.get("/metrics").text), "cds_journal_pending_entries") == 2
        assert app.state.ledger.drain_once(wait=True).error is not None  # still failing: kept, in order
        assert app.state.ledger.journal.count(fresh=True) == 2

        rename(db_url, "issued_card_away", "issued_card")
        result = app.state.ledger.drain_once(wait=True)  # what the drainer thread does on its next round
        assert result.complete
        assert readyz(client) == (200, {"status": "ready", "checks": {
            "database": {"state": "ok"}, "terminology": {"state": "ok"}, "journal": {"state": "ok", "pending": 0}}})
        assert count(db_url, "issued_card") == 2 * len(expected_rules)
        for card in cards.values():
            from tests.store.ledger_probe import count_ledger_rows, count_suggestion_rows

            assert count_ledger_rows(db_url, card["uuid"]) == 1
            assert count_suggestion_rows(db_url, card["uuid"]) == len(card.get("suggestions", []))
        assert count(db_url, "feedback") == 1
        assert delta("cds_journal_replays_total", kind="cards", result="stored") == 1
        assert delta("cds_journal_replays_total", kind="feedback", result="stored") == 1
        assert value(samples(client.get("/metrics").text), "cds_journal_pending_entries") == 0
        # back to the database directly: the next call's cards are stored at once
        after = client.hook(hook_request(SCENARIO))
        assert after.status_code == 200 and count(db_url, "issued_card") == 3 * len(expected_rules)
        assert app.state.ledger.journal.count(fresh=True) == 0


def test_full_journal_still_answers_cards_and_refuses_feedback_with_503(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, journal_dir=tmp_path / "journal", journal_max_entries=1)
    db_url = settings.database_url
    with TestClient(create_app(settings)) as http:
        client = Client(http)
        client.hook(hook_request(SCENARIO)).raise_for_status()  # the schema is in place
        rename(db_url, "issued_card", "issued_card_away")
        kept = client.hook(hook_request(SCENARIO))
        lost = client.hook(hook_request(SCENARIO))  # the journal is full now: answered, not recorded
        assert (kept.status_code, lost.status_code) == (200, 200)
        assert sorted(by_rule(lost.json()["cards"])) == sorted(by_rule(kept.json()["cards"]))
        card = lost.json()["cards"][0]
        refused = client.post(f"/cds-services/{SIGN}/feedback",
                              json=body(override(card, card["overrideReasons"][0]["code"])))
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "30"
        assert refused.json()["issue"][0]["code"] == "transient"
        status, ready = readyz(client)
        assert (status, ready["status"]) == (200, "degraded")  # still giving guidance: stays in rotation
        assert ready["checks"]["journal"]["pending"] == 1
        assert ready["checks"]["journal"]["detail"] == (
            "journal full (1 of 1 entries): new cards are answered but NOT recorded, feedback is refused (503)")


def test_an_uncreatable_journal_does_not_stop_the_service(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    settings = make_settings(tmp_path, journal_dir=tmp_path / "a-file" / "journal")  # read-only disk, say
    with TestClient(create_app(settings)) as http:
        client = Client(http)
        assert client.hook(hook_request(SCENARIO)).status_code == 200  # the database takes the cards
        status, ready = readyz(client)
        assert (status, ready["status"]) == (200, "degraded")
        assert ready["checks"]["database"] == {"state": "ok"}
        assert ready["checks"]["journal"]["detail"] == ("journal not writable (NotADirectoryError: Not a directory):"
                                                        " it could not keep cards if the database failed")
