"""A key/value cache for generation: per layer, keys and values of every token seen so far.

    cache = KVCache(num_layers, capacity=prompt_len + max_new_tokens)   # capacity optional
    key_all, value_all = cache.update(layer, key_new, value_new)         # [b, h, past + new, d]

With a capacity the buffers are allocated once (on the first update) and written in place, so a step costs no
copy of the past; without one they grow by concatenation.
"""

from __future__ import annotations

import torch


class KVCache:
    """Keys and values of every token seen so far, per decoder layer: [b, kv_heads, length, head_dim] each."""

    def __init__(self, num_layers: int, capacity: int | None = None):
        self.num_layers = num_layers
        self.capacity = capacity
        self._keys: list[torch.Tensor | None] = [None] * num_layers
        self._values: list[torch.Tensor | None] = [None] * num_layers
        # One length per layer: within a forward, earlier layers
        # have appended the new tokens, later ones not yet.
        self._lengths = [0] * num_layers

    @property
    def length(self) -> int:
        """Tokens cached (in layer 0; all layers agree between forwards)."""
        return self._lengths[0]

    def update(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append key/value [b, h, n, d] of `layer` and return everything cached for it."""
        start, new = self._lengths[layer], key.shape[2]
        end = start + new
        # Without a capacity every step concatenates (copies) the whole past: O(n²) over a generation. With
        # one, buffers of the final size are allocated at the first update and each step writes its slice;
        # positions past `end` hold garbage (new_empty) but are never read, since only [:end] is returned.
        if self.capacity is None:
            if self._keys[layer] is None:
                self._keys[layer], self._values[layer] = key, value
            else:
                self._keys[layer] = torch.cat([self._keys[layer], key], dim=2)
                self._values[layer] = torch.cat([self._values[layer], value], dim=2)
            self._lengths[layer] = end
            return self._keys[layer], self._values[layer]
        if end > self.capacity:
            raise RuntimeError(f"KV cache capacity {self.capacity} exceeded ({end} tokens)")
        if self._keys[layer] is None:
            shape = (key.shape[0], key.shape[1], self.capacity, key.shape[3])
            self._keys[layer] = key.new_empty(shape)
            self._values[layer] = value.new_empty(shape)
        self._keys[layer][:, :, start:end] = key
        self._values[layer][:, :, start:end] = value
        self._lengths[layer] = end
        return self._keys[layer][:, :, :end], self._values[layer][:, :, :end]
