"""distillab: knowledge distillation of language models, end to end, on a CPU.

One module per idea: `world`, `tokenizer`, `models`, `losses`, `training`, `sampling`,
`evaluation`, `cost`, `ledger`, `profiles`, `workspace`, `plots`, `widgets`; `checks` for the
labs' exercises and `labs` to generate the learner versions.
"""

__version__ = "0.1.0"
