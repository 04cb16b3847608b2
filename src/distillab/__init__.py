"""distillab: knowledge distillation of language models, end to end, on a CPU.

One module per idea, in three layers; a module imports only from its own layer or those below it
(`tests/test_layers.py` reads this list and fails on a module missing from it or importing upward).

- Core (nothing a chapter owns): `hub` (whether this process may reach the Hugging Face hub; the
  entry points keep it offline), `knobs` (checked settings), `runtime` (device, seeds, threads),
  `world` (problems, traces, the strict verifier, splits), `answers` (the free-text verifier),
  `tokenizer`, `models` (named sizes; the one builder of a Llama, Qwen2 or GPT-2; safe save/load
  with provenance), `architectures` (any Hugging Face checkpoint: load, save, LoRA, prompts),
  `training` (the one loop), `data_parallel` (data-parallel processes, and how many this run has),
  `losses` (pure functions), `distillation` (logit KD), `onpolicy` (on-policy distillation),
  `sampling` (decoding with the KV cache, k verified samples per prompt), `rejection` (the
  rejection-sampling planner), `curation` (filtering traces), `evaluation` (accuracy by difficulty,
  vote@k), `forgetting` (what fine-tuning cost a pretrained model away from the task), `cost`
  (FLOPs, dollars), `published` (the figures the course quotes), `profiles` (run budgets),
  `workspace` (the learner's folders), `records` (a run as a typed record), `ledger` (the records of
  one profile), `reuse` (a run's key; finished runs and measurements read back), `tables` (Markdown
  and text tables), `claims` (a claim as a paired effect over seeds, its 95 % lower bound, the one
  check: reported in a notebook, raised under the tests), `comparison` (a student's result, arms on
  the same seeds, paired gains, verdicts, the questions a chapter asks), `live_table` (a
  comparison's live table), `worker_pool` (runs in worker processes), `students` (arms, the one
  training path, compare).
- Chapter layer: `teacher` (chapter 01), `kd_experiments` (02), `trace_experiments` and
  `filter_experiments` (03), `onpolicy_experiments` (04), `frontier` (05), `transfer_experiments`
  (06), `realmodel` (chapter 07's pretrained model, fetched and converted at set-up),
  `realmodel_experiments` (07's set-up and arms, and the student the learner keeps),
  `realmodel_results` (07's numbers and tables), `realmodel_sweeps` (07's stored runs and step
  probe), `realmodel_fine_tuning` (07's stored sweep of LoRA's rank and learning rate against every
  weight), `realmodel_trl` (07's fine-tuning through TRL's SFTTrainer, checked against the
  course's loss), `doctor` (the pre-flight check of a teacher/student pair), `stored_sweeps` (stored
  comparisons: the one reader), `recipe_file` (a recipe file: its keys, read and checked),
  `run_recipe` (the recipe command: run, launch, price).
- Front: `plots`, `widgets`, `checks` (the labs' feedback), `labs` (learner versions), `bench`,
  `claim_variants` (`make claims`: the chapters' claims under numeric variants),
  `chapter_times` (what a chapter took on the bench machine, and what to expect on this one).
"""

__version__ = "0.1.0"
