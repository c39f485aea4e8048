"""A relay that takes a whole message and then closes or resets the connection without
its reply (RFC 1047): the reader gets one copy, the editor sees the recipient as unknown
and decides."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from mailservers import Sink, running
from newsroom import SAMPLE_DATE, add_subscribers, numbered, run, sample_config
from test_slow_relay import deliveries


@pytest.mark.parametrize("loss", ["taken-close", "taken-reset"])
def test_a_reply_lost_after_the_message_is_unknown_not_a_second_copy(
        tmp_path: Path, loss: str):
    people = numbered(4)
    lost = people[1][0]
    # The lost one first, then a relay that answers again (for --retry-unknown).
    sink = Sink(data={lost: [loss, "250"]})
    with running(sink) as port:
        config = sample_config(tmp_path, port, smtp_extra="connections = 1\nretries = 2")
        add_subscribers(config, people)
        run(config, "fetch")
        first = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE, code=1)
        assert "sent 3, deferred 0, failed 0, unknown 1" in first
        assert "never confirmed 1 message(s)" in first and "--retry-unknown" in first
        second = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE)
        assert "sent 1" not in second
        assert Counter(sink.recipients()) == {address: 1 for address, _, _ in people}
        assert deliveries(config) == {"sent": 3, "unknown": 1}

        status = run(config, "status")
        assert "UNKNOWN" in status and "--retry-unknown" in status
        assert (f"{SAMPLE_DATE}  {lost}  no reply from 127.0.0.1:{port} to the end of the "
                "message") in status
        failures = run(config, "editions", "show", SAMPLE_DATE, "--failures")
        assert f"Edition {SAMPLE_DATE}: 1 recipient(s) not sent or bounced" in failures
        assert [line.split("\t")[:2] for line in failures.splitlines()
                if line.startswith("  ")] == [
            [f"  {lost}", "unknown"]]
        listing = run(config, "editions", "list").splitlines()
        header = listing[0].split()
        row = dict(zip(header, listing[1].split(), strict=False))
        assert (row["SENT"], row["UNKNOWN"]) == ("3", "1")
        # (the summary line on stderr follows the JSON in the runner's output)
        listed = json.JSONDecoder().raw_decode(run(config, "editions", "list", "--json"))[0][0]
        assert (listed["sent"], listed["unknown"]) == (3, 1)

        again = run(config, "send", "--no-fetch", "--date", SAMPLE_DATE, "--retry-unknown")
        assert "sent 1, deferred 0, failed 0" in again
        assert deliveries(config) == {"sent": 4}
        assert "Unknown deliveries" not in run(config, "status")
    assert Counter(sink.recipients()) == {address: 2 if address == lost else 1
                                          for address, _, _ in people}
