"""`sentra datasets …` and `sentra train start --dataset` against a stand-in TrainingService
on an in-process gRPC server (no platform): the requests the commands send, what they print,
their exit codes."""

from __future__ import annotations

import json

import grpc
import pytest
from sentra.training.v1 import training_pb2, training_pb2_grpc
from sentra_cli.commands import datasets as datasets_cmd

from tests.cli.fake_training import sentra, serving

JSONL = b'{"messages": [{"role": "user", "content": "Plazo?"}, {"role": "assistant", "content": "30 d\xc3\xadas"}]}\n'


def _dataset(state=training_pb2.DATASET_STATE_READY, done=4, source="documents", **fields) -> training_pb2.Dataset:
    return training_pb2.Dataset(
        dataset_id="ds-1", department="legal", version=3, state=state, source=source, chunks_done=done,
        chunks_total=4, train_examples=8, validation_examples=1, test_examples=1, pending=10,
        dropped={"duplicate": 2, "unsupported": 1}, pii_found={"PERSON": 3}, pii_mode="mask",
        timings={"generation": 12.5}, **fields)


class FakeTraining(training_pb2_grpc.TrainingServiceServicer):
    """Records every request; answers from a script."""

    def __init__(self) -> None:
        self.requests: list = []
        self.polls = 0
        self.fail_generation = False

    def CreateDataset(self, request, context):
        self.requests.append(request)
        return training_pb2.CreateDatasetResponse(dataset=_dataset(training_pb2.DATASET_STATE_GENERATING, done=0))

    def GetDataset(self, request, context):
        self.requests.append(request)
        self.polls += 1
        if self.polls < 2:
            return training_pb2.GetDatasetResponse(dataset=_dataset(training_pb2.DATASET_STATE_GENERATING, done=2))
        if self.fail_generation:
            return training_pb2.GetDatasetResponse(dataset=_dataset(
                training_pb2.DATASET_STATE_FAILED, failure_reason="the question generator is unavailable"))
        return training_pb2.GetDatasetResponse(dataset=_dataset())

    def ListDatasetItems(self, request, context):
        self.requests.append(request)
        start = int(request.page_token or 0)
        page = [training_pb2.DatasetItem(item_id=f"it-{i}", question=f"q{i}", answer=f"a{i}", split="train",
                                         status=training_pb2.ITEM_STATUS_PENDING, score=0.9)
                for i in range(start, min(start + request.page_size, 7))]
        token = str(start + len(page)) if start + len(page) < 7 else ""
        return training_pb2.ListDatasetItemsResponse(items=page, next_page_token=token, total=7)

    def ReviewDatasetItems(self, request, context):
        self.requests.append(request)
        return training_pb2.ReviewDatasetItemsResponse(changed=len(request.item_ids) or 5, dataset=_dataset())

    def ExportDataset(self, request, context):
        self.requests.append(request)
        return training_pb2.ExportDatasetResponse(jsonl=JSONL * 2, items=2)

    def ImportDataset(self, request, context):
        self.requests.append(request)
        if b"broken" in request.jsonl:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "line 2: not JSON; fix the line and import again")
        return training_pb2.ImportDatasetResponse(dataset=_dataset(source="import"))

    def StartTrainingJob(self, request, context):
        self.requests.append(request)
        return training_pb2.StartTrainingJobResponse(job=training_pb2.TrainingJob(
            job_id="job-1", department="legal", state=training_pb2.JOB_STATE_QUEUED, queue_position=1))


@pytest.fixture
def fake(monkeypatch, tmp_path):
    servicer = FakeTraining()
    monkeypatch.setattr(datasets_cmd, "POLL_SECONDS", 0.01)
    with serving(servicer, monkeypatch, tmp_path):
        yield servicer


def test_datasets_help_lists_every_command():
    result = sentra("datasets", "--help")
    assert result.exit_code == 0
    for command in ("create", "list", "show", "items", "approve", "reject", "edit", "export", "import"):
        assert command in result.output
    assert "datasets" in sentra("--help").output


def test_train_start_needs_a_file_or_a_dataset_and_not_both(tmp_path):
    neither = sentra("train", "start", "--adapter", "legal", "-d", "legal")
    assert neither.exit_code == 2
    assert "give a JSONL file or --dataset DATASET_ID" in neither.output
    data = tmp_path / "data.jsonl"
    data.write_bytes(JSONL)
    both = sentra("train", "start", str(data), "--dataset", "ds-1", "--adapter", "legal", "-d", "legal")
    assert both.exit_code == 2
    assert "one of the two" in both.output


def test_train_start_from_a_dataset_sends_its_id_and_no_file(fake):
    result = sentra("train", "start", "--dataset", "ds-1", "--adapter", "legal")
    assert result.exit_code == 0, result.output
    (request,) = fake.requests
    assert (request.dataset_id, request.adapter_name, request.dataset_jsonl, request.department) == (
        "ds-1", "legal", b"", "")
    assert "job-1" in result.output


def test_train_start_from_a_file_still_sends_the_file(fake, tmp_path):
    data = tmp_path / "data.jsonl"
    data.write_bytes(JSONL)
    result = sentra("train", "start", str(data), "--adapter", "legal", "-d", "legal")
    assert result.exit_code == 0, result.output
    (request,) = fake.requests
    assert (request.dataset_jsonl, request.dataset_filename, request.dataset_id) == (JSONL, "data.jsonl", "")


def test_create_sends_the_options_follows_until_ready_and_prints_the_summary(fake):
    result = sentra("datasets", "create", "-d", "legal", "--document", "doc-1", "--document", "doc-2",
                    "--since", "2024-05-01", "--pii-mode", "pseudonymise", "--questions-per-chunk", "3",
                    "--max-examples", "40", "--seed", "7")
    assert result.exit_code == 0, result.output
    create = fake.requests[0]
    assert list(create.document_ids) == ["doc-1", "doc-2"]
    assert (create.department, create.pii_mode, create.questions_per_chunk, create.max_examples, create.seed) == (
        "legal", "pseudonymise", 3, 40, 7)
    assert create.since.ToDatetime().isoformat() == "2024-05-01T00:00:00"
    assert fake.polls == 2
    for shown in ("v3", "READY", "train 8, validation 1, test 1", "pending 10", "duplicate 2", "PERSON 3",
                  "generation 12.5s"):
        assert shown in result.output


def test_create_exits_1_with_the_reason_when_generation_fails(fake):
    fake.fail_generation = True
    result = sentra("datasets", "create", "-d", "legal")
    assert result.exit_code == 1
    assert "the question generator is unavailable" in result.output


def test_create_without_follow_does_not_poll(fake):
    result = sentra("datasets", "create", "-d", "legal", "--no-follow")
    assert result.exit_code == 0, result.output
    assert fake.polls == 0


def test_items_pages_up_to_the_limit_with_the_filters(fake):
    result = sentra("datasets", "items", "ds-1", "--status", "pending", "--split", "train", "--text", "plazo",
                    "--limit", "6", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [item["item_id"] for item in lines] == [f"it-{i}" for i in range(6)]
    first = fake.requests[0]
    assert (first.status, first.split, first.text, first.page_size) == (
        training_pb2.ITEM_STATUS_PENDING, "train", "plazo", 6)


def test_approve_by_score_and_reject_by_id(fake):
    assert sentra("datasets", "approve", "ds-1", "--min-score", "0.8").exit_code == 0
    rejected = sentra("datasets", "reject", "ds-1", "it-1", "it-2")
    assert rejected.exit_code == 0
    assert "2 item(s) rejected" in rejected.output
    approve, reject = fake.requests
    assert (approve.decision, approve.min_score, list(approve.item_ids)) == (training_pb2.ITEM_STATUS_APPROVED, 0.8, [])
    assert (reject.decision, list(reject.item_ids)) == (training_pb2.ITEM_STATUS_REJECTED, ["it-1", "it-2"])
    neither = sentra("datasets", "approve", "ds-1")
    assert neither.exit_code == 2 and "--min-score" in neither.output


def test_export_writes_the_bytes_as_received(fake, tmp_path):
    out = tmp_path / "out.jsonl"
    result = sentra("datasets", "export", "ds-1", "--format", "instruction", "--all", "--split", "test",
                    "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == JSONL * 2
    request = fake.requests[0]
    assert (request.format, request.items, request.split) == ("instruction", "all", "test")
    to_stdout = sentra("datasets", "export", "ds-1")
    assert to_stdout.stdout_bytes == JSONL * 2
    assert fake.requests[1].items == "approved"


def test_import_errors_name_the_line_and_exit_1(fake, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_bytes(JSONL)
    ok = sentra("datasets", "import", str(good), "-d", "legal", "--approved")
    assert ok.exit_code == 0, ok.output
    assert (fake.requests[0].jsonl, fake.requests[0].filename, fake.requests[0].approved) == (
        JSONL, "good.jsonl", True)
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(JSONL + b"broken\n")
    result = sentra("datasets", "import", str(bad), "-d", "legal")
    assert result.exit_code == 1
    assert "INVALID_ARGUMENT" in result.output and "line 2: not JSON" in result.output


def test_items_table_shows_the_items_and_how_many_there_are(fake):
    result = sentra("datasets", "items", "ds-1", "--limit", "3")
    assert result.exit_code == 0, result.output
    assert "it-2" in result.output and "it-3" not in result.output
    assert "3 of 7 item(s)" in result.output
