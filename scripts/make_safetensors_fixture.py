#!/usr/bin/env python3
"""Write tests/fixtures/safetensors/python_written.safetensors with the Python safetensors
package, so the C++ reader is checked against files from the reference writer.

Every value is exactly representable in its dtype; tests/policy/safetensors_test.cc checks them.
Usage: python3 scripts/make_safetensors_fixture.py  (needs torch and safetensors)
"""
import pathlib

import torch
from safetensors.torch import save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "safetensors" / "python_written.safetensors"


def main():
    tensors = {
        # value = 0.5 * i - 1 for i in 0..5
        "model.f32": (torch.arange(6, dtype=torch.float32) * 0.5 - 1.0).reshape(2, 3),
        # value = 0.25 * i - 1 for i in 0..7
        "model.bf16": (torch.arange(8, dtype=torch.float32) * 0.25 - 1.0).to(torch.bfloat16).reshape(2, 2, 2),
        # value = 0.125 * i for i in 0..4
        "model.f16": (torch.arange(5, dtype=torch.float32) * 0.125).to(torch.float16),
        "model.i64": torch.arange(3, dtype=torch.int64) - 1,
        "model.scalar": torch.tensor(7.0, dtype=torch.float32),
        "model.empty": torch.zeros(0, 4, dtype=torch.float32),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={"format": "pt"})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
