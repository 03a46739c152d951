#!/bin/sh
# LoRA fine-tuning (CD-Reasoning recipe: r=128, alpha=256, dropout 0.05 on q_proj and v_proj.multiway.1, lr 2e-4
# cosine, 1 epoch; DeepSpeed ZeRO-2 on GPUs, DEEPSPEED_CONFIG=scripts/zero3.json for ZeRO-3).
#
#   MODEL_PATH=/models/one-align DATA_PATH=train.json IMAGE_FOLDER=/data/SPCD/images sh scripts/finetune_lora.sh
#   sh scripts/finetune_lora.sh                  # demo: tiny random model + synthetic data, minutes on a CPU
#   sh scripts/finetune_lora.sh --help           # settings (environment variables) and every finetune.py flag
#
# The run saves the adapter; `cdreasoning export --merge-lora OUTPUT_DIR --out MERGED` writes a standalone model.
case "${1:-}" in -h|--help)
  sed -n '2,9p' "$0"; sed -n '/^# Settings/,/^# One CPU/p' "$(dirname "$0")/_train_common.sh"
  echo; echo "finetune.py options:"; exec "${PYTHON:-python3}" -m cdreasoning train --help;;
esac
MODE=lora
DEFAULT_DEEPSPEED_CONFIG=scripts/zero2.json
RECIPE_ARGS="--lora_enable True --lora_r 128 --lora_alpha 256 --lora_dropout 0.05
  --tune_visual_abstractor False --freeze_vision_model True
  --num_train_epochs ${EPOCHS:-1} --per_device_train_batch_size ${BATCH_SIZE:-32}
  --gradient_accumulation_steps ${GRAD_ACCUM:-1} --learning_rate ${LR:-2e-4} --weight_decay 0.
  --warmup_ratio 0.03 --lr_scheduler_type cosine --save_steps 1000 --model_max_length 2048
  --gradient_checkpointing True --group_by_modality_length True --lazy_preprocess True"
DEMO_ARGS="--lora_enable True --lora_r 16 --lora_alpha 32 --lora_dropout 0.0
  --tune_visual_abstractor True --freeze_vision_model True
  --num_train_epochs ${EPOCHS:-4} --per_device_train_batch_size ${BATCH_SIZE:-16}
  --gradient_accumulation_steps ${GRAD_ACCUM:-1} --learning_rate ${LR:-2e-3} --weight_decay 0.
  --warmup_ratio 0.05 --lr_scheduler_type cosine --save_steps 200 --model_max_length 512"
. "$(dirname "$0")/_train_common.sh"
