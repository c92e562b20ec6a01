# wizevol: `make demo` runs the main job on the embedded local model, `make test` passes the tests.
# Both set up .venv themselves (llama-cpp-python builds from source once, ~5 min on 2 cores; pip caches it).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-all-extras
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF

# the same recipe with a real evolver and a 1.3B base model on a GPU host (not run here: no GPU was lent)
SEED    ?= data/seed_20.jsonl
EVOLVER ?= configs/openai.yaml

.PHONY: install browser install-qwen15 eval-qwen demo finetune-demo eval-demo reproduce evol-stop-demo reproduce-gpu test test-fast lint bench clean

# qwen05: the 0.5B Qwen2.5-Coder parts (491 MB), so the tests check the real parts' sha256 and one real chat call
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,local,train,quality,ray,qwen05]'
	touch $(STAMP)

install: $(STAMP)

# the report's browser test opens the page in Debian's chromium (as root, from the Debian registry); without it the
# test is skipped, with its reason
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
	  { DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -q chromium >/dev/null 2>&1; }; }; } || \
	  echo "chromium is not installed: the report's browser tests will be skipped"

# the 1.5B Qwen2.5-Coder parts (1.1 GB): the demo's model, and the eval against the published score
QWEN15 := $(VENV)/.installed-qwen15
$(QWEN15): $(STAMP)
	$(PY) -m pip install --quiet -e '.[qwen15]'
	touch $(QWEN15)

install-qwen15: $(QWEN15)

# the demo's model is Qwen2.5-Coder-1.5B-Instruct (configs/demo.yaml; docs/embedded-models.md: which model makes the demo's data)
DEMO := $(VENV)/bin/wizevol evolve --seed data/seed_20.jsonl --rounds 4 --out runs/demo --config configs/demo.yaml

demo: install-qwen15
	$(DEMO)

lint: install
	$(VENV)/bin/ruff check wizevol tests bench

test: install lint browser
	$(PY) -m pytest -q -p no:cacheprovider

test-fast: install
	WIZEVOL_SKIP_LOCAL=1 WIZEVOL_UNTOUCHED=1 $(PY) -m pytest -q -p no:cacheprovider -m "not slow"

bench: install
	$(PY) bench/evolve_throughput.py

clean:
	rm -rf $(VENV) runs .cache

finetune-demo: install
	@test -f runs/demo/round_3.done || $(MAKE) demo
	$(VENV)/bin/wizevol merge runs/demo --rounds 0-3 --out runs/demo/merged.jsonl --format prompt-completion
	$(VENV)/bin/wizevol finetune runs/demo/merged.jsonl --config configs/finetune/demo-cpu.yaml --out runs/demo-finetune

# the base model (raw HumanEval prompt, through llama.cpp) and the demo's LoRA tune (WizardCoder's eval prompt,
# through transformers) on the same 20 HumanEval problems, each pass@1 with its 95% interval
eval-demo: install
	@test -f runs/demo-finetune/train_summary.json || $(MAKE) finetune-demo
	$(VENV)/bin/wizevol eval local:gemma3-270m --prompt raw --limit 20 --max-new-tokens 256 --out runs/eval-base
	$(VENV)/bin/wizevol eval runs/demo-finetune --limit 20 --max-new-tokens 256 --out runs/eval-tuned

# HumanEval pass@1, greedy, all 164 problems, of the two embedded Qwen2.5-Coder Instruct models (chat, EvalPlus's
# instruction), to set beside the Qwen2.5-Coder technical report (61.6 and 70.7); see docs/eval-and-evol-stop.md
eval-qwen: install-qwen15
	$(VENV)/bin/wizevol eval local:qwen2.5-coder-1.5b --out runs/eval-qwen2.5-coder-1.5b
	$(VENV)/bin/wizevol eval local:qwen2.5-coder-0.5b --out runs/eval-qwen2.5-coder-0.5b

# the paper's round analysis on a CPU, offline: the demo's 4 rounds (resumed if done), then `wizevol ablate` with
# tiny LoRA fine-tunes of Qwen2.5-Coder-0.5B (from its packaged GGUF) and the first 10 HumanEval problems
# (Table 4 / Figure 3 style); 24 minutes on 2 cores after the demo
reproduce: install-qwen15
	$(DEMO)
	$(VENV)/bin/wizevol ablate runs/demo --config configs/ablate/reproduce-cpu.yaml

# Evol Stop on the embedded model: rounds are evolved one at a time into runs/evol-stop-demo,
# each followed by a tiny fine-tune on rounds 0..k and pass@1 on 20 dev problems; stops when pass@1 stops rising
evol-stop-demo: install
	$(VENV)/bin/wizevol evolve --seed data/seed_20.jsonl --rounds 4 --out runs/evol-stop-demo --evol-stop configs/evol_stop-cpu.yaml

reproduce-gpu: install
	$(VENV)/bin/wizevol evolve --seed $(SEED) --rounds 4 --out runs/reproduce-gpu --config $(EVOLVER)
	$(VENV)/bin/wizevol filter runs/reproduce-gpu
	$(VENV)/bin/wizevol ablate runs/reproduce-gpu --clean --config configs/ablate/gpu.yaml
