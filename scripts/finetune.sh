#!/bin/sh
# Full fine-tuning (Q-Align recipe: LLM + visual abstractor train, vision tower frozen; DeepSpeed ZeRO-3 on GPUs).
#
#   MODEL_PATH=/models/one-align DATA_PATH=train.json IMAGE_FOLDER=/data/SPCD/images sh scripts/finetune.sh
#   sh scripts/finetune.sh                       # demo: tiny random model + synthetic data, minutes on a CPU
#   sh scripts/finetune.sh --help                # settings (environment variables) and every finetune.py flag
#
# Extra arguments are passed to cdreasoning/train/finetune.py and override the defaults.
# Environment variables: see scripts/_train_common.sh (MODEL_PATH, DATA_PATH, IMAGE_FOLDER, OUTPUT_DIR,
# NUM_GPUS, HOSTFILE, DEEPSPEED_CONFIG, BATCH_SIZE, GRAD_ACCUM, EPOCHS, LR, MASTER_PORT, VERSION, PYTHON).
case "${1:-}" in -h|--help)
  sed -n '2,9p' "$0"; sed -n '/^# Settings/,/^# One CPU/p' "$(dirname "$0")/_train_common.sh"
  echo; echo "finetune.py options:"; exec "${PYTHON:-python3}" -m cdreasoning train --help;;
esac
MODE=full
DEFAULT_DEEPSPEED_CONFIG=scripts/zero3.json
RECIPE_ARGS="--lora_enable False --tune_visual_abstractor True --freeze_vision_model True
  --num_train_epochs ${EPOCHS:-2} --per_device_train_batch_size ${BATCH_SIZE:-8}
  --gradient_accumulation_steps ${GRAD_ACCUM:-1} --learning_rate ${LR:-2e-5} --weight_decay 0.
  --warmup_ratio 0.03 --lr_scheduler_type cosine --save_steps 1000 --model_max_length 2048
  --gradient_checkpointing True --group_by_modality_length True --lazy_preprocess True"
DEMO_ARGS="--lora_enable False --tune_visual_abstractor True --freeze_vision_model True
  --num_train_epochs ${EPOCHS:-6} --per_device_train_batch_size ${BATCH_SIZE:-16}
  --gradient_accumulation_steps ${GRAD_ACCUM:-1} --learning_rate ${LR:-1e-3} --weight_decay 0.
  --warmup_ratio 0.05 --lr_scheduler_type cosine --save_steps 200 --model_max_length 512"
. "$(dirname "$0")/_train_common.sh"
