"""`--group_by_modality_length`: transformers' length-grouped batches, the batches in random order."""

import torch
from transformers.trainer_pt_utils import LengthGroupedSampler

from cdreasoning.train.trainer import length_grouped_order


def _batches(order, size):
    return [order[i : i + size] for i in range(0, len(order), size)]


def test_same_batches_as_transformers_in_shuffled_order():
    lengths = [5] * 70 + [50] * 30 + [7] * 4  # 104 records: 13 batches of 8
    ours = length_grouped_order(8, lengths, torch.Generator().manual_seed(0))
    theirs = list(LengthGroupedSampler(8, lengths=lengths, generator=torch.Generator().manual_seed(0)))
    assert sorted(ours) == list(range(104))  # every record once
    assert sorted(map(sorted, _batches(ours, 8))) == sorted(map(sorted, _batches(theirs, 8)))
    # transformers sorts each mega-batch by length (long batches first in each); ours shuffles the batch order
    orders = [
        [
            lengths[b[0]] == 50
            for b in _batches(length_grouped_order(8, lengths, torch.Generator().manual_seed(s)), 8)
        ]
        for s in range(5)
    ]
    assert any(order.index(True) > 0 for order in orders)
    assert len({tuple(order) for order in orders}) > 1


def test_a_partial_batch_stays_last():
    lengths = [5] * 20 + [50] * 7  # 27 records, batch 8: the fourth batch has 3
    for seed in range(5):
        order = length_grouped_order(8, lengths, torch.Generator().manual_seed(seed))
        batches = _batches(order, 8)
        assert [len(b) for b in batches] == [8, 8, 8, 3]
        theirs = _batches(
            list(LengthGroupedSampler(8, lengths=lengths, generator=torch.Generator().manual_seed(seed))), 8
        )
        assert sorted(batches[-1]) == sorted(theirs[-1])
