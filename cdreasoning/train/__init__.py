"""Fine-tuning: `cdreasoning train` / `cdreasoning/train/finetune.py` (HF Trainer + DeepSpeed), LoRA export.

Importing this package needs the training extras (`pip install 'cdreasoning[train]'`) only when a run starts.
"""
