import pytest
import torch

from distillab import sampling, world
from distillab.architectures import load_causal_lm, prompt_text, same_tokenizer, save_checkpoint
from distillab.models import ARCHITECTURES, build_model, count_parameters, matmul_parameters
from distillab.tokenizer import build_bpe_tokenizer


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_every_architecture_saves_and_loads_as_a_downloaded_checkpoint_would(architecture, tokenizer, tmp_path):
    model = build_model("tiny", tokenizer, 1, architecture=architecture)
    save_checkpoint(model, tokenizer, tmp_path / architecture)
    assert (tmp_path / architecture / "model.safetensors").is_file()
    loaded, loaded_tokenizer = load_causal_lm(tmp_path / architecture)
    assert type(loaded).__name__ == type(model).__name__
    assert same_tokenizer(loaded_tokenizer, tokenizer)
    ids = tokenizer(["ana has 3 eggs . how many ?"], return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(loaded(ids).logits, model.eval()(ids).logits)
    assert 0 < matmul_parameters(model) < count_parameters(model)


def test_a_pickled_checkpoint_is_refused(tokenizer, tmp_path):
    build_model("tiny", tokenizer, architecture="gpt2").config.save_pretrained(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ValueError, match="pickled weights are never loaded"):
        load_causal_lm(tmp_path)
    with pytest.raises(FileNotFoundError, match="no Hugging Face checkpoint"):
        load_causal_lm(tmp_path / "nothing")


def test_natural_prompts_use_the_chat_template_when_there_is_one():
    bpe = build_bpe_tokenizer()
    problem = world.example_problem(2)
    assert prompt_text(problem, bpe, "world") == problem.prompt
    assert prompt_text(problem, bpe, "natural").startswith(problem.question)
    bpe.chat_template = "{% for m in messages %}<user> {{ m['content'] }}{% endfor %} <assistant>"
    assert prompt_text(problem, bpe, "natural") == f"<user> {problem.question} Think step by step, then give the " \
                                                   "final answer as a number. <assistant>"
    with pytest.raises(ValueError, match="prompt_format must be one of"):
        prompt_text(problem, bpe, "chat")


def test_room_to_answer_counts_the_student_tokenizers_tokens(tokenizer):
    bpe = build_bpe_tokenizer()
    for difficulty in world.DIFFICULTIES:
        assert sampling.max_new_tokens_for(difficulty, tokenizer) == sampling.max_new_tokens_for(difficulty)
        trace = world.widest_example(difficulty).trace
        assert sampling.max_new_tokens_for(difficulty, bpe) > len(bpe(trace, add_special_tokens=False)["input_ids"])


def test_a_completion_is_rendered_for_a_student_asked_in_plain_english():
    from distillab.architectures import completion_text

    trace = "<think> 6 - 2 = 4 </think> answer 4"
    assert completion_text(trace, "world", "world") == trace
    assert completion_text(trace, "world", "natural") == "6 - 2 = 4. The answer is 4."
    assert completion_text("Ana has 4.", "natural", "natural") == "Ana has 4."
    with pytest.raises(ValueError, match="cannot be rewritten in the world's strict format"):
        completion_text("Ana has 4.", "natural", "world")


def test_a_templates_default_system_prompt_is_left_out(real_model_folder):
    from distillab.architectures import load_checkpoint_tokenizer

    smol = load_checkpoint_tokenizer(real_model_folder)
    problem = world.example_problem(2)
    prompt = prompt_text(problem, smol, "natural")
    assert prompt.startswith("<|im_start|>system\n<|im_end|>\n<|im_start|>user\n") and "SmolLM" not in prompt
    assert prompt.endswith("<|im_start|>assistant\n") and problem.question in prompt


def test_room_to_answer_in_plain_english_counts_the_rendered_trace(real_model_folder):
    from distillab.architectures import load_checkpoint_tokenizer

    smol = load_checkpoint_tokenizer(real_model_folder)
    widest = world.in_plain_english(world.widest_example(5).trace)
    assert sampling.max_new_tokens_for(5, smol, "natural") == len(smol(widest)["input_ids"]) + 1 + sampling.EXTRA_TOKENS
    assert sampling.max_new_tokens_for(5, smol, "natural") > sampling.max_new_tokens_for(1, smol, "natural")


def _lora_student(tokenizer, tmp_path):
    """A tiny pretrained checkpoint loaded from disk, with LoRA adapters that are not zero."""
    from distillab.architectures import LoraSettings, with_lora

    base = save_checkpoint(build_model("tiny", tokenizer, 1, architecture="llama"), tokenizer, tmp_path / "base")
    student = with_lora(load_causal_lm(base)[0], LoraSettings(rank=4, alpha=8.0), seed=0)
    torch.manual_seed(0)
    with torch.no_grad():
        for name, parameter in student.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05)  # B starts at 0: a trained one is not
    return student.eval()


def test_a_lora_student_saves_its_adapters_and_loads_back_with_them(tokenizer, tmp_path):
    from distillab.architectures import ADAPTER_FILE, has_adapters, weights_file

    student = _lora_student(tokenizer, tmp_path)
    ids = torch.tensor([tokenizer("1+2=")["input_ids"]])
    folder = save_checkpoint(student, tokenizer, tmp_path / "adapters")
    assert weights_file(folder) == folder / ADAPTER_FILE and not (folder / "model.safetensors").exists()
    assert weights_file(folder).stat().st_size < 0.5 * (tmp_path / "base" / "model.safetensors").stat().st_size
    again, its_tokenizer = load_causal_lm(folder)
    assert has_adapters(again) and its_tokenizer("1+2=")["input_ids"] == ids[0].tolist()
    with torch.no_grad():
        expected = student(ids).logits
        assert torch.equal(again(ids).logits, expected)
        merged = save_checkpoint(student, tokenizer, tmp_path / "merged", merged=True)
        plain = load_causal_lm(merged)[0]
        assert not has_adapters(plain) and has_adapters(student)  # the student itself is left as it was
        assert torch.allclose(plain(ids).logits, expected, atol=1e-5)


def test_adapters_whose_checkpoint_is_gone_say_how_to_carry_the_model(tokenizer, tmp_path):
    import shutil

    folder = save_checkpoint(_lora_student(tokenizer, tmp_path), tokenizer, tmp_path / "adapters")
    shutil.rmtree(tmp_path / "base")
    with pytest.raises(FileNotFoundError, match="merged=True"):
        load_causal_lm(folder)
    (folder / "adapter_model.safetensors").rename(folder / "adapter_model.bin")
    with pytest.raises(ValueError, match="safetensors only"):
        load_causal_lm(folder)
