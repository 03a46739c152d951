# Shared body of scripts/finetune.sh and scripts/finetune_lora.sh (POSIX sh; sourced, not run).
#
# Settings come from environment variables; extra command-line arguments go to cdreasoning/train/finetune.py
# and override the defaults below (run `python -m cdreasoning train --help` for all of them).
#
#   MODEL_PATH        checkpoint folder (mPLUG-Owl2 layout) to start from. Unset: the demo (below).
#   DATA_PATH         training conversation JSON(s), space separated (M-SPCD / LLaVA format)
#   IMAGE_FOLDER      folder the records' image names are relative to
#   OUTPUT_DIR        where checkpoints, logs (TensorBoard) and the result go   [runs/<mode>]
#   NUM_GPUS          processes per node: GPUs to use [all visible]; on a CPU machine, CPU processes [1]
#   HOSTFILE          DeepSpeed hostfile for multi-node runs ("host slots=N" per line); every node needs the
#                     same code, environment and data paths, and passwordless ssh from this one
#   DEEPSPEED_CONFIG  ZeRO config [full: scripts/zero3.json, LoRA: scripts/zero2.json]; zero3_offload.json
#                     offloads parameters and optimizer to CPU memory when GPU memory is short
#   BATCH_SIZE        per-device batch size; GRAD_ACCUM gradient accumulation steps; EPOCHS; LR
#   MASTER_PORT       rendezvous port for the launcher [25801]
#   VERSION           conversation template [v1]
#   PYTHON            interpreter [.venv/bin/python if present, else python3]
#
# Demo: with no MODEL_PATH, a tiny random model (cdreasoning init-model --preset tiny) is fine-tuned on a
# synthetic SPCD-like set (cdreasoning data synth), both created under runs/demo/ if missing, so a real training
# run finishes in minutes on a CPU.
# Rerunning the same command after a crash resumes from the newest complete checkpoint in OUTPUT_DIR (the
# default of `cdreasoning train`); pass --fresh to start over (it lists the checkpoints it deletes first).
# GPUs (or NUM_GPUS > 1, or HOSTFILE): launched with the `deepspeed` launcher and DEEPSPEED_CONFIG.
# One CPU process: plain python (no DeepSpeed).

set -eu
cd "$(dirname "$0")/.."

if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")
VERSION=${VERSION:-v1}
MASTER_PORT=${MASTER_PORT:-25801}
OUTPUT_DIR=${OUTPUT_DIR:-runs/$MODE}

if [ -z "${MODEL_PATH:-}" ]; then
  DEMO_DIR=${DEMO_DIR:-runs/demo}
  MODEL_PATH=$DEMO_DIR/tiny-init
  if [ ! -f "$MODEL_PATH/config.json" ]; then
    echo "[demo] no MODEL_PATH: creating a tiny random model in $MODEL_PATH"
    "$PYTHON" -m cdreasoning init-model --preset tiny --out "$MODEL_PATH" --overwrite
  fi
  if [ ! -f "$DEMO_DIR/synth/synth_meta.json" ]; then
    echo "[demo] creating a synthetic SPCD-like set in $DEMO_DIR/synth"
    "$PYTHON" -m cdreasoning data synth --out "$DEMO_DIR/synth" --scenes "${DEMO_SCENES:-60}" --seed 0 --size 96
  fi
  DATA_PATH=${DATA_PATH:-$DEMO_DIR/synth/train_mix.json}
  IMAGE_FOLDER=${IMAGE_FOLDER:-$DEMO_DIR/synth/images}
  DEMO=1
else
  DEMO=0
fi
if [ -z "${DATA_PATH:-}" ] || [ -z "${IMAGE_FOLDER:-}" ]; then
  echo "error: set DATA_PATH and IMAGE_FOLDER (or leave MODEL_PATH unset for the demo)" >&2
  exit 2
fi

if [ -n "${HOSTFILE:-}" ] || [ "$GPUS" -gt 0 ] || [ "${NUM_GPUS:-1}" -gt 1 ]; then
  # DeepSpeed launcher: GPUs, or several CPU processes (gloo) when NUM_GPUS > 1 on a CPU machine.
  DEEPSPEED=$(dirname "$PYTHON")/deepspeed
  [ -x "$DEEPSPEED" ] || DEEPSPEED=deepspeed
  if [ -n "${HOSTFILE:-}" ]; then
    LAUNCH="$DEEPSPEED --hostfile $HOSTFILE --master_port $MASTER_PORT"
  else
    LAUNCH="$DEEPSPEED --num_gpus ${NUM_GPUS:-$GPUS} --master_port $MASTER_PORT"
  fi
  DS_ARGS="--deepspeed ${DEEPSPEED_CONFIG:-$DEFAULT_DEEPSPEED_CONFIG}"
  ENTRY=cdreasoning/train/finetune.py
  if [ "$GPUS" -gt 0 ]; then PRECISION="--bf16 True --tf32 True"; else PRECISION="--bf16 False"; fi
  # shellcheck disable=SC2086
  set -- $DS_ARGS $PRECISION "$@"
else
  LAUNCH="$PYTHON"
  ENTRY="-m cdreasoning train"
  set -- --bf16 False "$@"
fi

if [ "$DEMO" = 1 ]; then
  set -- $DEMO_ARGS "$@"
else
  set -- $RECIPE_ARGS "$@"
fi

echo "[train] $MODE: model=$MODEL_PATH data=$DATA_PATH output=$OUTPUT_DIR (resumes from its newest complete checkpoint; --fresh starts over)"
# shellcheck disable=SC2086
exec $LAUNCH $ENTRY \
  --model_name_or_path "$MODEL_PATH" \
  --version "$VERSION" \
  --data_path $DATA_PATH \
  --image_folder "$IMAGE_FOLDER" \
  --image_aspect_ratio pad \
  --output_dir "$OUTPUT_DIR" \
  --save_strategy steps \
  --save_total_limit 3 \
  --logging_steps "${LOGGING_STEPS:-10}" \
  --dataloader_num_workers "${WORKERS:-2}" \
  --report_to tensorboard \
  "$@"
