"""Data-parallel scoring of large pair lists on an existing launcher (torchrun, accelerate, deepspeed).

    torchrun --nproc_per_node 8 -m cdreasoning score --model-path CKPT --pairs big.csv --image-folder I/ --out s.csv
    accelerate launch --num_processes 8 -m cdreasoning score …          (the same)

The launcher sets RANK / WORLD_SIZE / LOCAL_RANK. Rank r takes the pairs whose index i has i mod N = r (every
rank gets a similar mix of the list) and writes them to its own part file next to `--out`
(`s.part00001-of-00008.csv`), resumably, exactly as a single-process run writes `--out`. When all ranks are done
(a barrier over a gloo process group, which needs no GPU), rank 0 merges the parts into `--out`, one row per pair
in input order: the same file a single process would have written. Rerunning the command resumes every part; the
parts are kept (delete them once `--out` is complete). Each rank uses GPU LOCAL_RANK when there are GPUs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> Shard:
        """The process's place in a launcher's job (RANK, WORLD_SIZE, LOCAL_RANK); one process without one."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        # LOCAL_RANK defaults to RANK: a single-node launcher that sets only RANK still gives distinct GPUs.
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
        if world < 1 or not 0 <= rank < world:
            raise ValueError(f"RANK={rank} / WORLD_SIZE={world} are inconsistent")
        return cls(rank, world, local)

    @property
    def sharded(self) -> bool:
        return self.world_size > 1

    def select(self, pairs: list) -> list:
        """This rank's pairs: index mod world_size == rank (input order kept)."""
        # Round-robin, not contiguous blocks: pair lists are often sorted
        # (by scene or level), and blocks would give the ranks unequal work.
        return [p for p in pairs if p.index % self.world_size == self.rank]

    def part_path(self, out: str | Path, rank: int | None = None) -> Path:
        out = Path(out)
        rank = self.rank if rank is None else rank
        return out.with_name(f"{out.stem}.part{rank:05d}-of-{self.world_size:05d}{out.suffix}")

    def setup(self) -> None:
        """Join the job's gloo process group (used for barriers only) and pick GPU LOCAL_RANK if there are GPUs."""
        import torch
        import torch.distributed as dist

        if torch.cuda.is_available():
            # Modulo: more ranks than GPUs on a node share them instead of failing.
            torch.cuda.set_device(self.local_rank % torch.cuda.device_count())
        if not dist.is_initialized():
            # gloo, not nccl: the group only synchronises (barriers), and gloo needs no GPU.
            dist.init_process_group("gloo", rank=self.rank, world_size=self.world_size)

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    def teardown(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def merge_parts(
    shard: Shard, out: str | Path, pairs: list, fieldnames: list[str] | None, store: dict | None = None
) -> list[dict]:
    """Rank 0: the parts' rows → `out` (one row per pair, input order); returns the failed rows. `store`:
    ResultLog options (provenance) for `out`; it is rewritten from the parts."""
    from cdreasoning.data.result_store import ResultLog

    provenance = (store or {}).get("provenance")
    # overwrite=True: the merged file is rebuilt from the parts every time, never resumed.
    merged = ResultLog(out, pairs, fieldnames, provenance=provenance, overwrite=True)
    for rank in range(shard.world_size):
        path = shard.part_path(out, rank)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: rank {rank}'s part is missing; rerun the same command")
        part = ResultLog(path, pairs, fieldnames, provenance=provenance)
        part.finalize()
        merged.rows.update(part.rows)
    merged.finalize()
    missing = [p.index for p in pairs if p.index not in merged.rows]
    if missing:
        raise RuntimeError(f"{out}: {len(missing)} pair(s) have no row after merging, e.g. pair {missing[0]}")
    return merged.failures


def run_sharded(
    shard: Shard, pairs: list, out, fieldnames, results, to_row, description: str, store: dict | None = None
) -> int:
    """This rank's pairs into its part file, then (rank 0) the merge. Exit status: 1 if any pair failed.
    `store`: ResultLog options (provenance, overwrite) of the run, applied to every part."""
    import sys

    from cdreasoning.data.result_store import ResultLog
    from cdreasoning.inference.cli_common import run_over_pairs

    part = ResultLog(shard.part_path(out), pairs, fieldnames, **(store or {}))
    label = f"{description} [rank {shard.rank}/{shard.world_size}]"
    status = run_over_pairs(shard.select(pairs), part, results, to_row, label)
    # Rank 0 merges only after every rank has finished writing its part.
    shard.barrier()
    if shard.rank == 0:
        failures = merge_parts(shard, out, pairs, fieldnames, store)
        print(f"merged {shard.world_size} parts → {out} ({len(failures)} failed pairs)", file=sys.stderr)
        status = 1 if failures else 0
    # Every rank waits for the merge, so no rank tears down the process group while rank 0 still works.
    shard.barrier()
    shard.teardown()
    return status
