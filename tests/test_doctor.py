"""The pre-flight check of a teacher/student pair, on the three pairs the course meets: its own
(one tokenizer), chapter 06's Qwen2 + BPE student, and chapter 07's real model."""

import json

import pytest

from distillab import doctor
from distillab.architectures import save_checkpoint
from distillab.models import build_model
from distillab.tokenizer import build_bpe_tokenizer

TEACHER = "package:reference/teacher"


@pytest.fixture(scope="module")
def course_student(tmp_path_factory, tokenizer):
    return save_checkpoint(build_model("small", tokenizer, architecture="llama"), tokenizer,
                           tmp_path_factory.mktemp("course") / "student")


@pytest.fixture(scope="module")
def qwen2_bpe_student(tmp_path_factory):
    bpe = build_bpe_tokenizer()
    return save_checkpoint(build_model("small", bpe, architecture="qwen2"), bpe, tmp_path_factory.mktemp("qwen2") / "student")


def test_the_course_pair_shares_its_tokenizer_and_every_recipe_applies(course_student):
    report = doctor.check_pair(TEACHER, course_student)
    assert report.same_tokenizer and report.shared_ids == report.teacher.vocabulary
    assert all(report.applies(kind) for kind in doctor.KINDS)
    assert report.teacher.number_pieces == ["27"] and report.teacher.prompt_format == "world"
    assert report.teacher.parameters == 1_784_064  # the reference teacher, counted from its config alone


def test_qwen2_with_bpe_takes_traces_only_and_says_why(qwen2_bpe_student):
    report = doctor.check_pair(TEACHER, qwen2_bpe_student)
    assert not report.same_tokenizer
    assert report.applies("traces")
    assert not report.applies("logits") and not report.applies("on-policy")
    assert "needs one tokenizer" in report.recipes["logits"][1]
    assert report.student.number_pieces == ["2", "7"]  # digits, as Qwen2's own tokenizer cuts them
    assert report.student.architecture == "qwen2"
    assert report.student.trace_tokens > report.teacher.trace_tokens  # the same trace, more tokens


def test_the_course_teacher_and_the_real_model(real_model_folder):
    report = doctor.check_pair(TEACHER, real_model_folder)
    s, t = report.student, report.teacher
    assert (s.architecture, s.parameters, s.vocabulary, s.embedding_rows) == ("llama", 134_515_008, 49_152, 49_152)
    assert s.chat_template and s.prompt_format == "natural" and not t.chat_template
    assert s.special_tokens["eos"] == "<|im_end|>"
    assert s.number_pieces == ["2", "7"]
    assert not report.same_tokenizer and report.shared_ids == 0  # no id stands for the same string in both
    assert s.lora_parameters == 4_884_480  # rank 16 on every linear layer, counted by peft on this layout
    assert report.recipes["on-policy"][1].startswith("needs one tokenizer too: the teacher grades every token")
    assert report.applies("traces") and "rendered in plain English" in report.recipes["traces"][1]
    assert not report.applies("logits") and not report.applies("on-policy")
    # memory: 16 bytes a parameter (weights, gradients, AdamW's two moments) and one batch of logits
    assert 2.15 < s.memory_gb("full fine-tuning", 8) < 4 and s.memory_gb("LoRA", 8) < s.memory_gb("full fine-tuning", 8)
    text = report.to_text()
    assert "same tokenizer: no" in text and "logits    no" in text
    table = [line for line in text.splitlines() if line.startswith(("eos token", "parameters"))]
    assert len({len(line) for line in table}) == 1, table  # every row fits its columns


def test_a_lora_of_other_settings_is_counted_on_the_model_itself(course_student):
    from distillab.architectures import LoraSettings

    small, large = (doctor.check_pair(TEACHER, course_student, lora=LoraSettings(rank=r)).student for r in (8, 64))
    assert large.lora_parameters == 8 * small.lora_parameters > 0


def test_a_chat_teacher_cannot_teach_a_student_in_the_world_format(real_model_folder, course_student):
    report = doctor.check_pair(real_model_folder, course_student)
    assert not report.applies("traces") and "cannot be rewritten" in report.recipes["traces"][1]


def test_the_command_prints_the_report_and_ends_a_bad_path_in_one_line(qwen2_bpe_student, tmp_path, capsys):
    assert doctor.main([TEACHER, str(qwen2_bpe_student), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert {row["recipe"]: row["applies"] for row in printed["recipes"]} == {"traces": "yes", "logits": "no",
                                                                            "on-policy": "no"}
    assert doctor.main([TEACHER, str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no checkpoint at" in err
    assert doctor.main([TEACHER, "HuggingFaceTB/SmolLM2-135M-Instruct"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "looks like a Hugging Face hub id" in err and "local checkpoints only" in err
