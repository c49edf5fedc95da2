"""`sentra schedules …` against a stand-in TrainingService on an in-process gRPC server (no
platform): the requests the commands send, what they print, their exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sentra.training.v1 import training_pb2, training_pb2_grpc
from sentra_cli.cli import console
from sentra_cli.commands.schedules import AtError, at_to_cron

from tests.cli.fake_training import sentra, serving


def _ts(text: str) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(datetime.fromisoformat(text).replace(tzinfo=UTC))
    return ts


def _schedule(**fields) -> training_pb2.Schedule:
    values = dict(schedule_id="sch-1", department="legal", adapter_name="legal-qa", cron="0 18 * * 5",
                  time_zone="Europe/Madrid", min_new_documents=20, new_documents=7,
                  last_run_at=_ts("2024-05-03T16:00:00"), next_run_at=_ts("2024-05-10T16:00:00"))
    values.update(fields)
    return training_pb2.Schedule(**values)


RUNS = [
    training_pb2.ScheduleRun(run_id="run-1", schedule_id="sch-1", reason="cron", state="SUCCEEDED",
                             started_at=_ts("2024-04-26T16:00:00"), dataset_id="ds-1", job_id="job-1",
                             promoted=True, outcome="promoted: better than the base model"),
    training_pb2.ScheduleRun(run_id="run-2", schedule_id="sch-1", reason="documents", state="FAILED",
                             started_at=_ts("2024-05-03T16:00:00"), dataset_id="ds-2", job_id="",
                             outcome="no approved items"),
]


class FakeTraining(training_pb2_grpc.TrainingServiceServicer):
    """Records every request; answers from a script."""

    def __init__(self) -> None:
        self.requests: list = []

    def CreateSchedule(self, request, context):
        self.requests.append(request)
        created = training_pb2.Schedule()
        created.CopyFrom(request.schedule)
        created.schedule_id = "sch-1"
        created.next_run_at.CopyFrom(_ts("2024-05-10T16:00:00"))
        return training_pb2.CreateScheduleResponse(schedule=created)

    def ListSchedules(self, request, context):
        self.requests.append(request)
        return training_pb2.ListSchedulesResponse(schedules=[
            _schedule(), _schedule(schedule_id="sch-2", cron="", time_zone="", paused=True, min_new_documents=5,
                                   new_documents=2, last_run_at=None, next_run_at=None)])

    def PauseSchedule(self, request, context):
        self.requests.append(request)
        return training_pb2.PauseScheduleResponse(schedule=_schedule(
            schedule_id=request.schedule_id, paused=request.paused))

    def DeleteSchedule(self, request, context):
        self.requests.append(request)
        if request.schedule_id != "sch-1":
            context.abort(grpc.StatusCode.NOT_FOUND, f"schedule {request.schedule_id} not found")
        return training_pb2.DeleteScheduleResponse()

    def ListScheduleRuns(self, request, context):
        self.requests.append(request)
        return training_pb2.ListScheduleRunsResponse(runs=RUNS)


@pytest.fixture
def fake(monkeypatch, tmp_path):
    servicer = FakeTraining()
    # Wide enough that the ten-column table does not wrap its cells.
    monkeypatch.setattr(console, "_width", 250)
    with serving(servicer, monkeypatch, tmp_path):
        yield servicer


def test_schedules_help_lists_every_command():
    result = sentra("schedules", "--help")
    assert result.exit_code == 0
    for command in ("create", "list", "pause", "resume", "delete", "history"):
        assert command in result.output
    assert "schedules" in sentra("--help").output


@pytest.mark.parametrize(("at", "cron"), [
    ("viernes 18:00", "0 18 * * 5"), ("friday 18:00", "0 18 * * 5"), ("Sunday 7:05", "5 7 * * 0"),
    ("domingo 00:00", "0 0 * * 0"), ("Miércoles 9:30", "30 9 * * 3"), ("sabado 23:59", "59 23 * * 6"),
    ("daily 09:30", "30 9 * * *"), ("diario 18:00", "0 18 * * *"),
])
def test_at_becomes_a_cron_expression(at, cron):
    assert at_to_cron(at) == cron


@pytest.mark.parametrize("at", ["friday", "18:00", "someday 18:00", "friday 24:00", "friday 18:60", "friday 6pm"])
def test_at_refuses_what_is_not_a_day_and_a_time(at):
    with pytest.raises(AtError):
        at_to_cron(at)


def test_create_with_at_sends_the_cron_the_time_zone_and_the_settings(fake):
    result = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa", "--at", "viernes 18:00",
                    "--time-zone", "Europe/Madrid", "--min-new-documents", "20", "--min-score", "0.7",
                    "--epochs", "2", "--learning-rate", "1e-4", "--rank", "16", "--max-steps", "50",
                    "--batch-size", "8")
    assert result.exit_code == 0, result.output
    (request,) = fake.requests
    s = request.schedule
    assert (s.department, s.adapter_name, s.cron, s.time_zone, s.min_new_documents, s.min_score) == (
        "legal", "legal-qa", "0 18 * * 5", "Europe/Madrid", 20, 0.7)
    assert (s.settings.epochs, s.settings.learning_rate, s.settings.lora_rank, s.settings.max_steps,
            s.settings.batch_size) == (2, 1e-4, 16, 50, 8)
    assert "sch-1" in result.output
    assert "2024-05-10 18:00 CEST" in result.output  # the next run, in the schedule's time zone


def test_create_with_only_a_threshold_sends_no_cron(fake):
    result = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa", "--min-new-documents", "10")
    assert result.exit_code == 0, result.output
    (request,) = fake.requests
    assert (request.schedule.cron, request.schedule.min_new_documents, request.schedule.time_zone) == ("", 10, "")


def test_create_without_a_time_or_a_threshold_exits_2_without_calling(fake):
    result = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa")
    assert result.exit_code == 2
    assert "--min-new-documents" in result.output
    assert fake.requests == []


def test_create_refuses_cron_and_at_together(fake):
    result = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa", "--cron", "0 18 * * fri",
                    "--at", "friday 18:00")
    assert result.exit_code == 2
    assert "not both" in result.output
    assert fake.requests == []


def test_create_refuses_a_bad_at_or_time_zone_without_calling(fake):
    bad_at = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa", "--at", "someday 18:00")
    assert bad_at.exit_code == 2 and "unknown day" in bad_at.output
    bad_zone = sentra("schedules", "create", "-d", "legal", "-a", "legal-qa", "--cron", "0 18 * * fri",
                      "--time-zone", "Mars/Olympus")
    assert bad_zone.exit_code == 2 and "unknown time zone" in bad_zone.output
    assert fake.requests == []


def test_list_table_shows_each_schedule(fake):
    result = sentra("schedules", "list", "-d", "legal")
    assert result.exit_code == 0, result.output
    assert fake.requests[0].department == "legal"
    for shown in ("sch-1", "sch-2", "legal-qa", "0 18 * * 5", "Europe/Madrid", "2024-05-03 18:00 CEST",
                  "2024-05-10 18:00 CEST", "paused"):
        assert shown in result.output


def test_list_json_is_the_schedules(fake):
    result = sentra("schedules", "list", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert [s["schedule_id"] for s in found] == ["sch-1", "sch-2"]
    assert (found[0]["cron"], found[0]["new_documents"], found[1]["paused"]) == ("0 18 * * 5", 7, True)


def test_pause_and_resume_send_the_flag(fake):
    paused = sentra("schedules", "pause", "sch-1")
    assert paused.exit_code == 0, paused.output
    assert "paused" in paused.output
    resumed = sentra("schedules", "resume", "sch-1")
    assert resumed.exit_code == 0, resumed.output
    assert "resumed" in resumed.output and "2024-05-10 18:00 CEST" in resumed.output
    assert [(r.schedule_id, r.paused) for r in fake.requests] == [("sch-1", True), ("sch-1", False)]


def test_delete_and_a_missing_schedule(fake):
    deleted = sentra("schedules", "delete", "sch-1")
    assert deleted.exit_code == 0, deleted.output
    assert "sch-1 deleted" in deleted.output
    missing = sentra("schedules", "delete", "sch-9")
    assert missing.exit_code == 1
    assert "NOT_FOUND" in missing.output and "schedule sch-9 not found" in missing.output


def test_history_lists_runs_newest_first(fake):
    result = sentra("schedules", "history", "sch-1")
    assert result.exit_code == 0, result.output
    assert fake.requests[0].schedule_id == "sch-1"
    assert result.output.index("ds-2") < result.output.index("ds-1")
    for shown in ("documents", "FAILED", "no approved items", "job-1", "SUCCEEDED", "yes"):
        assert shown in result.output
    as_json = json.loads(sentra("schedules", "history", "sch-1", "--json").output)
    assert [r["run_id"] for r in as_json] == ["run-2", "run-1"]
    assert as_json[1]["promoted"] is True
