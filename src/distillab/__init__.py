"""distillab: knowledge distillation of language models, end to end, on a CPU.

One module per idea, in three layers; a module imports only from its own layer or below.

- Core (no chapter knowledge): `world` (problems, traces, verifier, splits), `tokenizer`, `models`
  (named sizes, safe save/load with provenance), `training` (the one loop), `losses` (pure
  functions, the one temperature validator), `sampling` (decoding with the KV cache, k verified
  samples per prompt), `rejection` (the rejection-sampling planner), `evaluation` (accuracy by
  difficulty, vote@k), `cost` (FLOPs, dollars), `profiles` (run budgets), `runtime` (device, seeds),
  `published` (the figures the course quotes), `tables` (Markdown and text tables).
- Chapter layer: `workspace` (the learner's folders), `records` (a run as a typed record),
  `ledger` (the records of one profile), `teacher` (chapter 01's recipe), `onpolicy` and
  `distillation` (chapter 04's and 02's methods), `students` (arms, the one training path,
  comparisons), `reuse` (a run's key; finished runs and measurements read back), `live` (a
  comparison's live table), `workers` (a comparison's runs in worker processes), `kd_experiments`, `curation`, `trace_experiments`, `onpolicy_experiments` (chapters
  02-04), `sweeps` (stored comparisons), `frontier` (chapter 05), `realmodel` (chapter 07's pretrained
  model, fetched and converted at set-up), `doctor` (the pre-flight check of a teacher/student pair),
  `realmodel_experiments` (chapter 07).
- Front: `plots`, `widgets`, `checks` (the labs' feedback), `labs` (learner versions), `bench`,
  `chapter_times` (what a chapter took on the bench machine, and what to expect on this one).
"""

__version__ = "0.1.0"
